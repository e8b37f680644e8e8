import { systemClock, type Clock } from '../../clock.ts';
import { parseWebhookSecret, webhookHeaders } from '../../delivery/index.ts';
import type { AlertChannel, GroupNotification, NotifiedAlert, Severity } from '../channel.ts';
import { postToChannel } from './http-post.ts';

export interface WebhookChannelOptions {
  /** `TOKENKEEPER_ALERT_WEBHOOK_URL`. */
  url: string;
  /** `TOKENKEEPER_ALERT_WEBHOOK_SECRET`, `whsec_<base64>`. */
  secret: string;
  minSeverity?: Severity;
  timeoutMs: number;
  /** Dates `webhook-timestamp`. Default the system clock. */
  clock?: Clock;
}

/** The JSON body, in the API's conventions (snake_case, ISO 8601 times) and the Standard
 * Webhooks payload shape `{type, timestamp, data}`. */
export interface AlertWebhookPayload {
  /** `alert.firing`, `alert.repeat`, `alert.resolved` or `alert.test`. */
  type: string;
  timestamp: string;
  data: {
    id: string;
    group_key: string;
    kind: string;
    severity: Severity;
    title: string;
    text: string;
    group_labels: Record<string, string>;
    alerts: {
      type: string;
      key: string;
      severity: Severity;
      state: 'firing' | 'resolved';
      summary: string;
      labels: Record<string, string>;
      first_seen_at: string;
      last_seen_at: string;
      resolved_at: string | null;
    }[];
    created_at: string;
  };
}

/**
 * POSTs each notification as JSON to the operator's endpoint, signed per Standard Webhooks
 * (`webhook-id` = the notification id, stable across the engine's retries, so the receiver can
 * drop duplicates). Any 2xx is delivered. The URL may carry a token in its path or query, so an
 * error names only its origin.
 */
export class WebhookChannel implements AlertChannel {
  readonly name = 'webhook';
  readonly minSeverity: Severity;
  readonly #url: string;
  readonly #secret: string;
  readonly #key: Buffer;
  readonly #timeoutMs: number;
  readonly #clock: Clock;

  constructor(options: WebhookChannelOptions) {
    this.#url = options.url;
    this.#secret = options.secret;
    this.#key = parseWebhookSecret(options.secret);
    this.minSeverity = options.minSeverity ?? 'LOW';
    this.#timeoutMs = options.timeoutMs;
    this.#clock = options.clock ?? systemClock;
  }

  async send(notification: GroupNotification, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(alertWebhookPayload(notification));
    const headers = webhookHeaders(this.#key, notification.id, Math.floor(this.#clock.now() / 1000), body);
    await postToChannel({
      channel: this.name,
      url: this.#url,
      headers: { 'content-type': 'application/json', 'user-agent': 'Tokenkeeper', ...headers },
      body,
      signal,
      timeoutMs: this.#timeoutMs,
      secrets: [this.#secret, urlSecretParts(this.#url)],
    });
  }
}

/** The webhook body of a notification. */
export function alertWebhookPayload(notification: GroupNotification): AlertWebhookPayload {
  return {
    type: `alert.${notification.kind}`,
    timestamp: notification.createdAt,
    data: {
      id: notification.id,
      group_key: notification.groupKey,
      kind: notification.kind,
      severity: notification.severity,
      title: notification.title,
      text: notification.text,
      group_labels: notification.groupLabels,
      alerts: notification.alerts.map(alertJson),
      created_at: notification.createdAt,
    },
  };
}

function alertJson(alert: NotifiedAlert): AlertWebhookPayload['data']['alerts'][number] {
  return {
    type: alert.type,
    key: alert.key,
    severity: alert.severity,
    state: alert.state,
    summary: alert.summary,
    labels: alert.labels,
    first_seen_at: alert.firstSeenAt,
    last_seen_at: alert.lastSeenAt,
    resolved_at: alert.resolvedAt ?? null,
  };
}

/** The part of a URL after its origin (path and query), which may hold a token. */
export function urlSecretParts(url: string): string | null {
  try {
    const parsed = new URL(url);
    const rest = `${parsed.pathname}${parsed.search}`;
    return rest.length > 1 ? rest : null;
  } catch {
    return null;
  }
}
