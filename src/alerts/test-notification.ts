import type { Clock } from '../clock.ts';
import type { AlertChannelsConfig } from '../config/index.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../logger.ts';
import { insertDeliveredAlertNotification, type Database } from '../store/index.ts';
import type { AlertChannel, GroupNotification } from './channel.ts';
import { describeAlertChannels } from './channels/index.ts';
import { sendWithTimeout } from './notifier.ts';

export interface TestNotificationDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  channels: readonly AlertChannel[];
  /** Where each channel sends, by name, as it may be shown (`describeAlertChannels`); never a secret. */
  targets?: ReadonlyMap<string, string>;
  /** A send taking longer is aborted and reported as failed (the notifier's bound). */
  sendTimeoutMs: number;
}

/**
 * The deps of an instance's test (the API's and the CLI's): its channels, where each sends, and
 * the notifier's bound on one send (a few of the channel's own request timeouts).
 */
export function testNotificationDepsOf(tk: {
  database: { db: Database };
  clock: Clock;
  logger: Logger;
  alertChannels: readonly AlertChannel[];
  config: { alertChannels: AlertChannelsConfig };
}): TestNotificationDeps {
  return {
    db: tk.database.db,
    clock: tk.clock,
    logger: tk.logger,
    channels: tk.alertChannels,
    targets: new Map(describeAlertChannels(tk.config.alertChannels).map((channel) => [channel.name, channel.target])),
    sendTimeoutMs: 3 * tk.config.alertChannels.timeoutMs,
  };
}

/** One channel's answer to the test. */
export interface ChannelTestResult {
  channel: string;
  target: string;
  minSeverity: AlertChannel['minSeverity'];
  ok: boolean;
  /** The channel's error, safe to show (channels never put a secret in it). */
  error: string | null;
  durationMs: number;
}

export interface TestNotificationReport {
  /** The notification's id: the `webhook-id` of the webhook delivery, and its rows in the delivery log. */
  id: string;
  sentAt: number;
  results: ChannelTestResult[];
}

/**
 * `POST /v1/alerts/test` and `tokenkeeper alerts test`: one `test` notification through every
 * configured channel at once, now, bypassing the policy (no group_wait, no silence, no minimum
 * severity: the point is to see every channel work), and each channel's outcome. One attempt,
 * no retry, no fallback, no `channel_failing` alert: the caller reads the result. Each attempt is
 * recorded in the delivery log (kind `test`), like every other.
 */
export async function sendTestNotification(deps: TestNotificationDeps, requestedBy: string): Promise<TestNotificationReport> {
  const now = deps.clock.now();
  const at = new Date(now).toISOString();
  const notification: GroupNotification = {
    id: newId('ntf'),
    groupKey: 'test{}',
    kind: 'test',
    severity: 'HIGH',
    title: '[TEST] Tokenkeeper alert channels',
    text: `Test notification from Tokenkeeper, requested by ${requestedBy.slice(0, 100)}: this channel works. No action needed.`,
    groupLabels: {},
    alerts: [
      {
        type: 'test',
        key: 'test',
        severity: 'HIGH',
        labels: { requested_by: requestedBy.slice(0, 100) },
        summary: 'Test notification: no action needed.',
        state: 'firing',
        firstSeenAt: at,
        lastSeenAt: at,
      },
    ],
    createdAt: at,
  };
  const results = await Promise.all(
    deps.channels.map(async (channel): Promise<ChannelTestResult> => {
      const startedAt = performance.now();
      let error: string | null = null;
      try {
        await sendWithTimeout(channel, notification, deps.sendTimeoutMs);
      } catch (failure) {
        error = (failure instanceof Error ? failure.message : String(failure)).slice(0, 500) || 'unknown error';
      }
      const durationMs = Math.round(performance.now() - startedAt);
      await insertDeliveredAlertNotification(deps.db, {
        id: newId('ntf'),
        notificationId: notification.id,
        groupKey: notification.groupKey,
        channel: channel.name,
        kind: 'test',
        severity: notification.severity,
        alertCount: 1,
        payload: JSON.stringify(notification),
        status: error === null ? 'sent' : 'failed',
        createdAt: now,
        sentAt: error === null ? deps.clock.now() : null,
        error,
      }).catch((recordError: unknown) => deps.logger.warn('could not record a test notification', { channel: channel.name, error: recordError }));
      if (error !== null) deps.logger.warn('alert channel test failed', { channel: channel.name, error });
      return { channel: channel.name, target: deps.targets?.get(channel.name) ?? '-', minSeverity: channel.minSeverity, ok: error === null, error, durationMs };
    }),
  );
  return { id: notification.id, sentAt: now, results };
}

/** The API's and the CLI's `--json` shape of a test report. */
export function testNotificationToJson(report: TestNotificationReport): Record<string, unknown> {
  return {
    id: report.id,
    sent_at: new Date(report.sentAt).toISOString(),
    ok: report.results.every((result) => result.ok),
    results: report.results.map((result) => ({
      channel: result.channel,
      target: result.target,
      min_severity: result.minSeverity,
      ok: result.ok,
      error: result.error,
      duration_ms: result.durationMs,
    })),
  };
}
