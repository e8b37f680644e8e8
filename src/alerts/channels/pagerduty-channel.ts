import { createHash } from 'node:crypto';
import type { AlertChannel, GroupNotification, NotifiedAlert, Severity } from '../channel.ts';
import { postToChannel } from './http-post.ts';
import { sendEach } from './send-each.ts';

export interface PagerDutyChannelOptions {
  /** `TOKENKEEPER_PAGERDUTY_ROUTING_KEY`: the 32-character integration key of an Events API v2 integration. */
  routingKey: string;
  /** `TOKENKEEPER_PAGERDUTY_API_URL`, default `https://events.pagerduty.com`. */
  apiUrl: string;
  /** `payload.source`: which Tokenkeeper raised it (the public URL's host). */
  source: string;
  minSeverity?: Severity;
  timeoutMs: number;
}

/** An Events API v2 event (developer.pagerduty.com, "Send an Alert Event"). */
export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  client?: string;
}

const SEVERITIES: Record<Severity, 'critical' | 'warning' | 'info'> = { HIGH: 'critical', MEDIUM: 'warning', LOW: 'info' };
const SUMMARY_MAX = 1024;
const DEDUP_KEY_MAX = 255;
/** Events in flight at once for one notification (PagerDuty rate-limits per routing key). */
const CONCURRENCY = 4;

/**
 * PagerDuty Events API v2: one event per alert, POSTed as JSON to `/v2/enqueue`, with
 * `dedup_key` = `<type>/<key>`, so PagerDuty keeps one incident per alert however often it is
 * re-sent: a firing alert is a `trigger` (a repeat adds to the same incident), a resolved one a
 * `resolve` of that incident. A test notification is triggered and at once resolved, so it pages
 * but leaves no open incident. PagerDuty answers 202; re-sending the same events is harmless,
 * so a partly failed send is simply retried whole.
 */
export class PagerDutyChannel implements AlertChannel {
  readonly name = 'pagerduty';
  readonly minSeverity: Severity;
  readonly #options: PagerDutyChannelOptions;
  readonly #endpoint: string;

  constructor(options: PagerDutyChannelOptions) {
    this.#options = options;
    this.minSeverity = options.minSeverity ?? 'HIGH';
    this.#endpoint = `${options.apiUrl.replace(/\/+$/, '')}/v2/enqueue`;
  }

  async send(notification: GroupNotification, signal: AbortSignal): Promise<void> {
    const batches = notification.alerts.map((alert) => pagerDutyEvents(notification, alert, this.#options));
    await sendEach(
      this.name,
      batches,
      async (events) => {
        for (const event of events) await this.#post(event, signal);
      },
      { signal, concurrency: CONCURRENCY, noun: 'alerts' },
    );
  }

  async #post(event: PagerDutyEvent, signal: AbortSignal): Promise<void> {
    await postToChannel({
      channel: this.name,
      url: this.#endpoint,
      headers: { 'content-type': 'application/json', 'user-agent': 'Tokenkeeper' },
      body: JSON.stringify(event),
      signal,
      timeoutMs: this.#options.timeoutMs,
      secrets: [this.#options.routingKey],
    });
  }
}

/** `<type>/<key>`, or a hash of it when longer than PagerDuty's 255 characters. */
export function pagerDutyDedupKey(alert: Pick<NotifiedAlert, 'type' | 'key'>): string {
  const key = `${alert.type}/${alert.key}`;
  if (key.length <= DEDUP_KEY_MAX) return key;
  return `${alert.type.slice(0, 180)}/sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** The events one alert of a notification becomes. */
export function pagerDutyEvents(notification: GroupNotification, alert: NotifiedAlert, options: Pick<PagerDutyChannelOptions, 'routingKey' | 'source'>): PagerDutyEvent[] {
  const dedupKey = pagerDutyDedupKey(alert);
  const resolve: PagerDutyEvent = { routing_key: options.routingKey, event_action: 'resolve', dedup_key: dedupKey };
  if (alert.state === 'resolved') return [resolve];
  const trigger: PagerDutyEvent = {
    routing_key: options.routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload: {
      summary: cut(`${alert.summary}${notification.kind === 'test' ? ' (test)' : ''}`, SUMMARY_MAX),
      source: options.source,
      severity: SEVERITIES[alert.severity],
      timestamp: alert.firstSeenAt,
      ...(alert.labels.integration ? { component: alert.labels.integration } : {}),
      ...(alert.labels.provider ? { group: alert.labels.provider } : {}),
      class: alert.type,
      custom_details: {
        alert_key: alert.key,
        labels: alert.labels,
        group_key: notification.groupKey,
        notification_id: notification.id,
        first_seen_at: alert.firstSeenAt,
        last_seen_at: alert.lastSeenAt,
      },
    },
    client: 'Tokenkeeper',
  };
  return notification.kind === 'test' ? [trigger, resolve] : [trigger];
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
