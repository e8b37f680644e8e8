import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../logger.ts';
import {
  activeSilences,
  alertsOfGroup,
  claimAlertGroup,
  claimAlertNotification,
  deleteIdleAlertGroup,
  dueAlertGroups,
  dueAlertNotifications,
  ensureGroupsOfFiringAlerts,
  escalateAlerts,
  insertAlertNotifications,
  markAlertNotificationFailed,
  markAlertNotificationSent,
  markAlertsNotified,
  saveAlertGroupMemory,
  type AlertGroupRecord,
  type AlertNotificationRecord,
  type AlertRecord,
  type Database,
  type NewAlertNotification,
  type SilenceRecord,
} from '../store/index.ts';
import type { AlertService } from './alert-service.ts';
import { severityRank, type AlertChannel, type GroupNotification, type NotificationKind, type NotifiedAlert, type Severity } from './channel.ts';
import { logNotification } from './log-channel.ts';
import { notificationTexts, type GroupPhrase } from './notification-text.ts';
import { channelMemoryOf, planChannel, repeatIntervalOf, type AlertPolicy, type ChannelMemory } from './policy.ts';

/** Delivery retries: `baseMs` doubling per attempt up to `maxMs`; `failed` after `maxAttempts`. */
export interface DeliveryTuning {
  /** A send taking longer is aborted and counts as a failure. Default 10 s. */
  sendTimeoutMs: number;
  baseMs: number;
  maxMs: number;
  maxAttempts: number;
  /** Failed attempts of one notification after which its channel's `channel_failing` alert fires. */
  failingAfterAttempts: number;
}

export const DEFAULT_DELIVERY_TUNING: Readonly<DeliveryTuning> = Object.freeze({
  sendTimeoutMs: 10_000,
  baseMs: 10_000,
  maxMs: 300_000,
  maxAttempts: 10,
  failingAfterAttempts: 2,
});

/** The alert a failing channel raises about itself (key: the channel's name). */
export const CHANNEL_FAILING = 'channel_failing';

export interface AlertNotifierDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  alerts: AlertService;
  policy: AlertPolicy;
  channels: readonly AlertChannel[];
  delivery?: Partial<DeliveryTuning>;
  phrases?: Readonly<Record<string, GroupPhrase>>;
}

/** What one `step` did (the `notify` job's report). */
export interface NotifyReport {
  job: 'notify';
  /** Groups evaluated. */
  checked: number;
  escalated: number;
  /** Notifications written to the outbox (one per channel). */
  notifications: number;
  silenced: number;
  sent: number;
  failed: number;
  refreshed: 0;
  needs_reauth: 0;
  duration_ms: number;
}

/**
 * The notification policy engine (issue 8, item 2), run as the periodic `notify` job on the
 * injected clock. Each step: escalates MEDIUM alerts firing for `escalateAfterMs`; flushes the
 * groups that are due (Alertmanager's group_wait / group_interval / repeat_interval, per channel:
 * minimum severity, silences) by writing one outbox row per channel in the same transaction as
 * the group's claim; then delivers the due outbox rows of this instance's channels.
 *
 * Across instances sharing the database: a group is flushed by the instance whose compare-and-set
 * on its version wins, and a delivery attempt by the instance whose compare-and-set on the row's
 * attempt count wins, so two instances stepping together send one notification, not two (a
 * sender that dies mid-send leaves a claim that lapses: the row is sent again, at least once).
 * A failed send is recorded, retried with backoff, printed to the log at once as a fallback, and
 * after `failingAfterAttempts` raises the channel's `channel_failing` alert (resolved by its next
 * success).
 */
export class AlertNotifier {
  private readonly deps: AlertNotifierDeps;
  private readonly tuning: DeliveryTuning;
  private readonly channels = new Map<string, AlertChannel>();

  constructor(deps: AlertNotifierDeps) {
    this.deps = deps;
    this.tuning = { ...DEFAULT_DELIVERY_TUNING, ...deps.delivery };
    for (const channel of deps.channels) {
      if (this.channels.has(channel.name)) throw new Error(`two alert channels are named ${channel.name}`);
      this.channels.set(channel.name, channel);
    }
  }

  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** One evaluation; harmless when run twice or by two instances at once. */
  async step(): Promise<NotifyReport> {
    const startedAt = performance.now();
    const { db, clock, policy } = this.deps;
    const report: NotifyReport = { job: 'notify', checked: 0, escalated: 0, notifications: 0, silenced: 0, sent: 0, failed: 0, refreshed: 0, needs_reauth: 0, duration_ms: 0 };
    const now = clock.now();
    report.escalated = await escalateAlerts(db, now - policy.escalateAfterMs);
    await ensureGroupsOfFiringAlerts(db, now, policy.groupWaitMs);
    const groups = await dueAlertGroups(db, now);
    if (groups.length > 0) {
      const silences = await activeSilences(db, now);
      for (const group of groups) {
        const flushed = await this.flush(group, silences, now);
        if (!flushed) continue;
        report.checked++;
        report.notifications += flushed.notifications;
        report.silenced += flushed.silenced;
      }
    }
    const delivered = await this.deliverDue();
    report.sent = delivered.sent;
    report.failed = delivered.failed;
    report.duration_ms = Math.round(performance.now() - startedAt);
    return report;
  }

  /** Claims and flushes one group: plans each channel and writes the outbox, all in one transaction. */
  private async flush(group: AlertGroupRecord, silences: readonly SilenceRecord[], now: number): Promise<{ notifications: number; silenced: number } | null> {
    const { policy } = this.deps;
    return this.deps.db.transaction().execute(async (trx) => {
      // First statement of the transaction: the claim (on SQLite it takes the write lock).
      if (!(await claimAlertGroup(trx, group, now, now + policy.groupIntervalMs))) return null;
      const alerts = await alertsOfGroup(trx, group.groupKey, group.lastFlushAt ?? group.createdAt);
      const memory: Record<string, unknown> = { ...group.notified };
      const rows: NewAlertNotification[] = [];
      const notified = new Set<string>();
      const notificationId = newId('ntf');
      const groupPolicy = { ...policy, repeatIntervalMs: repeatIntervalOf(policy, group.groupKey.slice(0, group.groupKey.indexOf('{'))) };
      let silenced = 0;
      for (const channel of this.channels.values()) {
        const plan = planChannel({ alerts, silences, minSeverity: channel.minSeverity, memory: channelMemoryOf(memory[channel.name]), now, policy: groupPolicy });
        memory[channel.name] = plan.memory satisfies ChannelMemory;
        if (plan.kind) {
          const notification = this.notificationOf(notificationId, group, plan.kind, plan.alerts, now);
          rows.push(rowOf(notification, channel.name, 'pending', now));
          for (const alert of plan.alerts) notified.add(alert.id);
        }
        if (plan.newlySilenced.length > 0) {
          // Recorded, not sent: the delivery log says what a silence held back.
          const notification = this.notificationOf(notificationId, group, 'firing', plan.newlySilenced, now);
          rows.push(rowOf(notification, channel.name, 'silenced', now));
          silenced += plan.newlySilenced.length;
        }
      }
      await insertAlertNotifications(trx, rows);
      await markAlertsNotified(trx, [...notified], now);
      await saveAlertGroupMemory(trx, group.groupKey, memory);
      if (!alerts.some((alert) => alert.state === 'firing')) await deleteIdleAlertGroup(trx, group.groupKey);
      return { notifications: rows.filter((row) => row.status === 'pending').length, silenced };
    });
  }

  private notificationOf(id: string, group: AlertGroupRecord, kind: NotificationKind, alerts: readonly AlertRecord[], now: number): GroupNotification {
    const type = alerts[0]?.type ?? group.groupKey.slice(0, group.groupKey.indexOf('{'));
    const { title, text } = notificationTexts(kind, type, alerts, group.labels, this.deps.phrases);
    const severity = alerts.reduce<Severity>((top, alert) => (severityRank(alert.severity) > severityRank(top) ? alert.severity : top), 'LOW');
    return {
      id,
      groupKey: group.groupKey,
      kind,
      severity,
      title,
      text,
      groupLabels: group.labels,
      alerts: alerts.map(notifiedAlertOf),
      createdAt: new Date(now).toISOString(),
    };
  }

  /** Sends this instance's due outbox rows, each claimed first; every channel at once, none waiting for another. */
  private async deliverDue(): Promise<{ sent: number; failed: number }> {
    const due = await dueAlertNotifications(this.deps.db, this.channelNames(), this.deps.clock.now());
    const outcomes = await Promise.all(due.map((row) => this.deliver(row)));
    return { sent: outcomes.filter((outcome) => outcome === 'sent').length, failed: outcomes.filter((outcome) => outcome === 'failed').length };
  }

  private async deliver(row: AlertNotificationRecord): Promise<'sent' | 'failed' | 'skipped'> {
    const { db, clock, logger } = this.deps;
    const channel = this.channels.get(row.channel);
    if (!channel) return 'skipped';
    const now = clock.now();
    if (!(await claimAlertNotification(db, row, now, now + 2 * this.tuning.sendTimeoutMs + 5_000))) return 'skipped';
    const notification = JSON.parse(row.payload) as GroupNotification;
    const attempt = row.attempts + 1;
    try {
      await sendWithTimeout(channel, notification, this.tuning.sendTimeoutMs);
    } catch (error) {
      const message = errorMessage(error);
      const retryAt = attempt >= this.tuning.maxAttempts ? null : clock.now() + Math.min(this.tuning.maxMs, this.tuning.baseMs * 2 ** (attempt - 1));
      // The operator hears of it on the console at once, whatever the retries do.
      const fallback = row.fallbackAt === null;
      if (fallback) logNotification(logger, notification, { fallback_for: channel.name, channel_error: message });
      await markAlertNotificationFailed(db, row.id, message, retryAt, fallback ? clock.now() : null);
      logger.warn('alert channel failed', { channel: channel.name, notification: row.id, attempt, error: message, retry_at: retryAt });
      if (attempt >= this.tuning.failingAfterAttempts && notification.groupKey.split('{')[0] !== CHANNEL_FAILING) {
        await this.deps.alerts
          .raise({ type: CHANNEL_FAILING, key: channel.name, severity: 'HIGH', labels: { channel: channel.name }, summary: `alert channel ${channel.name} is failing: ${message}` })
          .catch((raiseError: unknown) => logger.error('could not raise channel_failing', { channel: channel.name, error: raiseError }));
      }
      return 'failed';
    }
    await markAlertNotificationSent(db, row.id, clock.now());
    await this.deps.alerts.resolve(CHANNEL_FAILING, channel.name).catch(() => false);
    return 'sent';
  }
}

function rowOf(notification: GroupNotification, channel: string, status: 'pending' | 'silenced', now: number): NewAlertNotification {
  return {
    id: newId('ntf'),
    notificationId: notification.id,
    groupKey: notification.groupKey,
    channel,
    kind: notification.kind,
    severity: notification.severity,
    alertCount: notification.alerts.length,
    payload: JSON.stringify(notification),
    status,
    createdAt: now,
  };
}

function notifiedAlertOf(alert: AlertRecord): NotifiedAlert {
  return {
    type: alert.type,
    key: alert.key,
    severity: alert.severity,
    labels: alert.labels,
    summary: alert.summary,
    state: alert.state,
    firstSeenAt: new Date(alert.firstSeenAt).toISOString(),
    lastSeenAt: new Date(alert.lastSeenAt).toISOString(),
    ...(alert.resolvedAt === null ? {} : { resolvedAt: new Date(alert.resolvedAt).toISOString() }),
  };
}

/** Calls the channel with an abort signal that fires after `timeoutMs`; a channel ignoring it still loses the race. */
export async function sendWithTimeout(channel: AlertChannel, notification: GroupNotification, timeoutMs: number): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`timed out after ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([Promise.resolve().then(() => channel.send(notification, controller.signal)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500) || 'unknown error';
}
