import { countAlertNotificationsSince, countAlertsActiveSince, sumAlertCounts, type Database } from '../store/index.ts';
import { SEVERITIES, type Severity } from './channel.ts';

/** Deliveries of one channel in the window (see `AlertStats`). */
export interface ChannelStats {
  sent: number;
  silenced: number;
  failedDeliveries: number;
  undelivered: number;
  pending: number;
}

/**
 * What the alerts did over the last `hours` (`GET /v1/alerts/stats`, `tokenkeeper alerts stats`).
 *
 * Alerts: those firing at some time in the window (firing now, or resolved in it), counted by
 * type and by severity (as it is now, escalation included); of them, `firing` now, `fired` (began
 * firing in the window) and `resolved` (in the window).
 *
 * Notifications are counted per channel delivery (one notification to one channel), for those
 * written in the window; test notifications only under `tests`:
 * - `sent`: delivered;
 * - `suppressedByDeduplication`: raises of an alert already firing, merged into it instead of
 *   becoming a new alert and a notification (PagerDuty's de-duplication by `dedup_key`); counted
 *   per minute, so the window starts at its minute;
 * - `silenced`: notifications a silence held back (recorded, not sent);
 * - `failedDeliveries`: failed attempts (each retry that failed counts);
 * - `undelivered`: notifications whose every attempt failed (the console fallback printed them);
 * - `pending`: waiting for a first attempt or a retry.
 */
export interface AlertStats {
  hours: number;
  since: number;
  until: number;
  alerts: { active: number; firing: number; fired: number; resolved: number; byType: Record<string, number>; bySeverity: Record<Severity, number> };
  notifications: ChannelStats & { suppressedByDeduplication: number; byChannel: Record<string, ChannelStats>; tests: { sent: number; failed: number } };
}

const zero = (): ChannelStats => ({ sent: 0, silenced: 0, failedDeliveries: 0, undelivered: 0, pending: 0 });

export async function alertStats(db: Database, now: number, hours: number): Promise<AlertStats> {
  const since = now - hours * 3_600_000;
  const alertRows = await countAlertsActiveSince(db, since);
  const bySeverity = Object.fromEntries(SEVERITIES.map((severity) => [severity, 0])) as Record<Severity, number>;
  const byType: Record<string, number> = {};
  const alerts = { active: 0, firing: 0, fired: 0, resolved: 0, byType, bySeverity };
  for (const row of alertRows) {
    alerts.active += row.count;
    if (row.state === 'firing') alerts.firing += row.count;
    alerts.fired += row.firedInWindow;
    alerts.resolved += row.resolvedInWindow;
    byType[row.type] = (byType[row.type] ?? 0) + row.count;
    bySeverity[row.severity] += row.count;
  }
  const deduplicated = Object.values(await sumAlertCounts(db, 'deduplicated', since)).reduce((sum, count) => sum + count, 0);
  const total = zero();
  const byChannel: Record<string, ChannelStats> = {};
  const tests = { sent: 0, failed: 0 };
  for (const row of await countAlertNotificationsSince(db, since)) {
    if (row.kind === 'test') {
      if (row.status === 'sent') tests.sent += row.rows;
      else if (row.status === 'failed') tests.failed += row.rows;
      continue;
    }
    const channel = (byChannel[row.channel] ??= zero());
    for (const stats of [total, channel]) {
      if (row.status === 'sent') stats.sent += row.rows;
      else if (row.status === 'silenced') stats.silenced += row.rows;
      else if (row.status === 'failed') stats.undelivered += row.rows;
      else stats.pending += row.rows;
      stats.failedDeliveries += row.failedAttempts;
    }
  }
  return { hours, since, until: now, alerts, notifications: { ...total, suppressedByDeduplication: deduplicated, byChannel, tests } };
}

function channelJson(stats: ChannelStats): Record<string, number> {
  return { sent: stats.sent, silenced: stats.silenced, failed_deliveries: stats.failedDeliveries, undelivered: stats.undelivered, pending: stats.pending };
}

/** The API's and the CLI's `--json` shape of the stats. */
export function alertStatsToJson(stats: AlertStats): Record<string, unknown> {
  const { notifications } = stats;
  return {
    hours: stats.hours,
    since: new Date(stats.since).toISOString(),
    until: new Date(stats.until).toISOString(),
    alerts: {
      active: stats.alerts.active,
      firing: stats.alerts.firing,
      fired: stats.alerts.fired,
      resolved: stats.alerts.resolved,
      by_type: stats.alerts.byType,
      by_severity: stats.alerts.bySeverity,
    },
    notifications: {
      ...channelJson(notifications),
      suppressed_by_deduplication: notifications.suppressedByDeduplication,
      by_channel: Object.fromEntries(Object.entries(notifications.byChannel).map(([name, channel]) => [name, channelJson(channel)])),
      tests: notifications.tests,
    },
  };
}
