import type { AlertService } from '../alerts/index.ts';
import type { Logger } from '../logger.ts';
import type { StuckConnection, StuckConnections } from './stuck-connections.ts';

/** The alert a stuck connection raises; its key is the connection (or connect session) id. */
export const CONNECTION_STUCK = 'connection_stuck';

/** How often the `stuck` job runs (issue 8: "detection runs every 5 minutes"). */
export const STUCK_CHECK_INTERVAL_MS = 5 * 60_000;

/** A stuck connection is notified again at most this often (the policy's repeat interval, if longer). */
export const STUCK_REPEAT_FLOOR_MS = 6 * 3_600_000;

/** What one `stuck` run did (the job's report). */
export interface StuckCheckReport {
  job: 'stuck';
  /** Stuck connections found. */
  checked: number;
  /** Alerts raised that were not firing before (the others were raised again, de-duplicated). */
  raised: number;
  resolved: number;
  refreshed: 0;
  failed: 0;
  needs_reauth: 0;
  duration_ms: number;
}

/**
 * The `stuck` job: raises one `connection_stuck` alert per stuck connection and resolves those
 * no longer stuck (reconnected, recovered, deleted, or a session superseded or cleaned up).
 *
 * Re-alerting is idempotent because it goes through the alert state and the notification policy,
 * never straight to a channel: raising a firing alert again only updates it (one row per
 * (type, key), across every instance), and a notified alert whose severity has not changed is
 * sent again only when its group's repeat interval has passed: `TOKENKEEPER_ALERT_REPEAT_INTERVAL`,
 * but never less than `STUCK_REPEAT_FLOOR_MS` (6 h) for this type (`minRepeatIntervalMsByType`).
 * (A group notification about a connection of the same integration that became stuck, or
 * recovered, lists the others still stuck: that is news about the group, not a repeat.) The summary names the time the state began, not a running duration, so raising
 * again every 5 minutes changes nothing a channel would be told. Harmless when run twice or by
 * two instances at once.
 */
export async function runStuckCheck(deps: { stuck: StuckConnections; alerts: AlertService; logger: Logger }): Promise<StuckCheckReport> {
  const startedAt = performance.now();
  const { stuck, truncated } = await deps.stuck.scan();
  const firingBefore = await deps.alerts.list({ type: CONNECTION_STUCK, state: 'firing', limit: 100_000 });
  const wasFiring = new Set(firingBefore.map((alert) => alert.key));
  let raised = 0;
  for (const item of stuck) {
    await deps.alerts.raise(stuckAlertOf(item));
    if (!wasFiring.has(item.id)) raised++;
  }
  let resolved = 0;
  if (truncated) {
    // Rows past the scan limit were not read: they may still be stuck, so nothing is resolved.
    deps.logger.warn('more stuck connections than one check reads; none resolved this time', { listed: stuck.length });
  } else {
    const current = new Set(stuck.map((item) => item.id));
    for (const alert of firingBefore) {
      if (!current.has(alert.key) && (await deps.alerts.resolve(CONNECTION_STUCK, alert.key))) resolved++;
    }
  }
  return { job: 'stuck', checked: stuck.length, raised, resolved, refreshed: 0, failed: 0, needs_reauth: 0, duration_ms: Math.round(performance.now() - startedAt) };
}

/** The alert of one stuck connection. Labels group it by integration (the policy's default) and say what it is. */
export function stuckAlertOf(item: StuckConnection) {
  const labels: Record<string, string> = { integration: item.integration, provider: item.provider, state: item.state, terminal: String(item.terminal) };
  if (item.ownerId !== null) labels.owner = item.ownerId;
  if (item.connectionId !== null) labels.connection = item.connectionId;
  else labels.connect_session = item.id;
  const since = new Date(item.since).toISOString();
  const who = item.kind === 'system' ? `${item.integration}, system` : `${item.integration}, owner ${item.ownerId}`;
  const summary =
    item.state === 'connect_session'
      ? `connect session ${item.id} (${who}) started at ${since} and never completed`
      : item.state === 'degraded'
        ? `connection ${item.id} (${who}) has been degraded since ${since}: refreshes keep failing`
        : `connection ${item.id} (${who}) has needed re-authorization since ${since}; only its user can fix it`;
  return { type: CONNECTION_STUCK, key: item.id, severity: item.severity, labels, summary };
}
