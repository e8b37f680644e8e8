/**
 * The contract between the notification policy engine (src/alerts/) and the delivery channels
 * (src/alerts/channels/**). The engine decides *what* to send and *when* (grouping, group_wait,
 * group_interval, repeat_interval, silences, escalation, per-channel minimum severity); a channel
 * only turns one {@link GroupNotification} into one message on its medium.
 *
 * Channels never see tokens or secrets: a notification carries only alert identities, labels and
 * human-readable summaries.
 */

/** Alert severity, lowest first. Compare with {@link severityRank}, never with string order. */
export type Severity = 'LOW' | 'MEDIUM' | 'HIGH';

/** All severities, lowest first. */
export const SEVERITIES: readonly Severity[] = ['LOW', 'MEDIUM', 'HIGH'];

/** 0 for LOW, 1 for MEDIUM, 2 for HIGH: so `severityRank(a) >= severityRank(channel.minSeverity)`. */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/** True when `value` is one of the three severities (for config and API input). */
export function isSeverity(value: unknown): value is Severity {
  return value === 'LOW' || value === 'MEDIUM' || value === 'HIGH';
}

/** Why a notification is sent: a new or changed firing group, all of its alerts resolved, an
 * unchanged firing group re-sent after repeat_interval, or an operator's test. */
export type NotificationKind = 'firing' | 'resolved' | 'repeat' | 'test';

/** One alert as a channel sees it. Times are ISO 8601 strings (UTC). */
export interface NotifiedAlert {
  /** What happened, e.g. `connection_needs_reauth`. With `key`, the alert's stable identity. */
  type: string;
  /** Which thing it happened to, e.g. a connection id. PagerDuty's dedup_key is `${type}/${key}`. */
  key: string;
  severity: Severity;
  /** Free-form string labels: integration, provider, owner, connection, … */
  labels: Record<string, string>;
  /** One human sentence about this alert. */
  summary: string;
  state: 'firing' | 'resolved';
  firstSeenAt: string;
  lastSeenAt: string;
  /** Set when `state` is `resolved`. */
  resolvedAt?: string;
}

/**
 * One message about one alert group. The engine sends at most one per group per channel per
 * evaluation; `alerts` holds every alert of the group that this channel should hear about
 * (already filtered by the channel's minimum severity and by silences).
 */
export interface GroupNotification {
  /** Stable id of this notification (same for every channel it goes to); use it as an
   * idempotency / webhook id. */
  id: string;
  /** Stable identity of the group, e.g. `connection_needs_reauth/integration=google`. */
  groupKey: string;
  kind: NotificationKind;
  /** The highest severity among `alerts` (for `resolved`, the highest they had). */
  severity: Severity;
  /** Short title, e.g. "[FIRING:3] connection_needs_reauth google". Fits an e-mail subject. */
  title: string;
  /** One-line summary, e.g. "3 google connections need re-authorization". Fits an SMS segment
   * on its own where possible. */
  text: string;
  /** The group's common labels (those every alert shares), e.g. `{ integration: 'google' }`. */
  groupLabels: Record<string, string>;
  alerts: NotifiedAlert[];
  /** ISO 8601 time the engine built the notification (the injected clock's time). */
  createdAt: string;
}

/**
 * A delivery channel. Implementations live in src/alerts/channels/. `send` must either resolve
 * (delivered) or reject with an Error whose message is safe to store and show (no secrets, no
 * full URLs with credentials). It must honour `signal`: the engine aborts a send that takes too
 * long and retries it later with backoff. A channel does not retry by itself, does not log the
 * notification and does not throw synchronously.
 */
export interface AlertChannel {
  /** Stable name used in the delivery log and in `channel_failing` alerts: `console`, `webhook`,
   * `slack`, `email`, `sms`, `pagerduty`. */
  readonly name: string;
  /** Alerts below this severity are not sent to this channel (SMS and PagerDuty default to HIGH,
   * the others to LOW). */
  readonly minSeverity: Severity;
  send(notification: GroupNotification, signal: AbortSignal): Promise<void>;
  /** Optional: release sockets or transports on shutdown. */
  close?(): Promise<void>;
}
