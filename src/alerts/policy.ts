import type { AlertRecord, SilenceMatcher, SilenceRecord } from '../store/index.ts';
import { severityRank, type NotificationKind, type Severity } from './channel.ts';

/**
 * The notification policy's timings (Prometheus Alertmanager's route settings), in ms.
 * `groupWaitMs`: a new group waits this long to gather alerts into its first notification.
 * `groupIntervalMs`: a notified group is re-evaluated (and changes sent) at most this often.
 * `repeatIntervalMs`: an unchanged firing group is re-sent after this long.
 * `escalateAfterMs`: a MEDIUM alert firing this long becomes HIGH.
 */
export interface AlertPolicy {
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  escalateAfterMs: number;
  /** Send a notice when a notified alert resolves (default true). */
  resolveNotices: boolean;
  /** Label names that, with the type, form the group (default `['integration']`). */
  groupBy: readonly string[];
  /**
   * Alert types whose unchanged groups repeat no more often than this, whatever
   * `repeatIntervalMs` says (e.g. `connection_stuck`: at most every 6 h). Default none.
   */
  minRepeatIntervalMsByType?: Readonly<Record<string, number>>;
}

export const DEFAULT_ALERT_POLICY: Readonly<AlertPolicy> = Object.freeze({
  groupWaitMs: 30_000,
  groupIntervalMs: 300_000,
  repeatIntervalMs: 6 * 3_600_000,
  escalateAfterMs: 12 * 3_600_000,
  resolveNotices: true,
  groupBy: Object.freeze(['integration']),
});

/** The repeat interval of one alert type's groups: the policy's, raised to the type's floor if it has one. */
export function repeatIntervalOf(policy: Pick<AlertPolicy, 'repeatIntervalMs' | 'minRepeatIntervalMsByType'>, type: string): number {
  return Math.max(policy.repeatIntervalMs, policy.minRepeatIntervalMsByType?.[type] ?? 0);
}

/** The group an alert belongs to: its type and the grouping labels it has, e.g. `connection_needs_reauth{integration=google}`. */
export function groupOf(type: string, labels: Record<string, string>, groupBy: readonly string[]): { key: string; labels: Record<string, string> } {
  const groupLabels: Record<string, string> = {};
  for (const name of groupBy) if (labels[name] !== undefined) groupLabels[name] = labels[name]!;
  const inner = Object.entries(groupLabels)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(',');
  return { key: `${type}{${inner}}`, labels: groupLabels };
}

/** True when every matcher equals the alert's type, key, severity or label of that name. */
export function silenceMatches(matchers: readonly SilenceMatcher[], alert: Pick<AlertRecord, 'type' | 'severity' | 'labels'> & { key?: string }): boolean {
  return matchers.every((matcher) => {
    if (matcher.name === 'type') return alert.type === matcher.value;
    if (matcher.name === 'key') return alert.key === matcher.value;
    if (matcher.name === 'severity') return alert.severity === matcher.value;
    return alert.labels[matcher.name] === matcher.value;
  });
}

export function isSilenced(silences: readonly SilenceRecord[], alert: Pick<AlertRecord, 'type' | 'severity' | 'labels'> & { key?: string }): boolean {
  return silences.some((silence) => silenceMatches(silence.matchers, alert));
}

/**
 * What one channel was last told about one group (Alertmanager's notification log entry):
 * the firing alerts it heard of (as `type/key/severity`, so an escalation counts as a change),
 * the silenced ones already recorded, and when it was last sent something.
 */
export interface ChannelMemory {
  firing: string[];
  silenced: string[];
  at: number;
}

function identOf(alert: Pick<AlertRecord, 'type' | 'key' | 'severity'>): string {
  return `${alert.type}\u0000${alert.key}\u0000${alert.severity}`;
}

function alertIdOfIdent(ident: string): string {
  return ident.slice(0, ident.lastIndexOf('\u0000'));
}

function alertIdOf(alert: Pick<AlertRecord, 'type' | 'key'>): string {
  return `${alert.type}\u0000${alert.key}`;
}

export interface ChannelPlan {
  /** Null: nothing to send to this channel now. */
  kind: Exclude<NotificationKind, 'test'> | null;
  /** Firing alerts first, then resolved ones. */
  alerts: AlertRecord[];
  /** Firing alerts this channel would hear of but a silence holds back, not recorded before. */
  newlySilenced: AlertRecord[];
  memory: ChannelMemory;
}

/**
 * Alertmanager's decision for one group and one receiver. Send when a firing alert the channel
 * has not heard of appears (new, re-fired, escalated, or its silence ended), or when an alert it
 * heard of resolved (a resolution notice); otherwise re-send the unchanged firing set once
 * `repeatIntervalMs` has passed since the last send. Alerts below the channel's minimum severity
 * and silenced alerts are left out; alerts that fired and resolved between two evaluations are
 * never sent (the channel never heard of them).
 */
export function planChannel(input: {
  alerts: readonly AlertRecord[];
  silences: readonly SilenceRecord[];
  minSeverity: Severity;
  memory: ChannelMemory | undefined;
  now: number;
  policy: Pick<AlertPolicy, 'repeatIntervalMs' | 'resolveNotices'>;
}): ChannelPlan {
  const { memory, now } = input;
  const minRank = severityRank(input.minSeverity);
  const previous = new Set(memory?.firing ?? []);
  const previousIds = new Set([...previous].map(alertIdOfIdent));
  const previousSilenced = new Set(memory?.silenced ?? []);

  const firing: AlertRecord[] = [];
  const silenced: AlertRecord[] = [];
  const resolved: AlertRecord[] = [];
  /** Heard of, still firing, now silenced: kept, so that the silence ending is not news. */
  const heldBack: string[] = [];
  for (const alert of input.alerts) {
    const muted = isSilenced(input.silences, alert);
    if (alert.state === 'resolved') {
      if (previousIds.has(alertIdOf(alert)) && !muted) resolved.push(alert);
      continue;
    }
    if (severityRank(alert.severity) < minRank) continue;
    if (muted) {
      silenced.push(alert);
      if (previousIds.has(alertIdOf(alert))) heldBack.push(...[...previous].filter((ident) => alertIdOfIdent(ident) === alertIdOf(alert)));
    } else firing.push(alert);
  }
  const newlySilenced = silenced.filter((alert) => !previousSilenced.has(identOf(alert)));
  const silencedIdents = silenced.map(identOf);

  // Alertmanager: resolutions alone are news when resolution notices are on, or when nothing
  // fires any more (the channel's memory must be cleared either way).
  const changed =
    firing.some((alert) => !previous.has(identOf(alert))) || (resolved.length > 0 && (input.policy.resolveNotices || firing.length === 0));
  let kind: ChannelPlan['kind'] = null;
  if (changed) kind = firing.length > 0 ? 'firing' : 'resolved';
  else if (firing.length > 0 && memory !== undefined && now - memory.at >= input.policy.repeatIntervalMs) kind = 'repeat';

  if (kind === 'resolved' && !input.policy.resolveNotices) {
    // Forget them without telling: the operator asked for no resolution notices.
    return { kind: null, alerts: [], newlySilenced, memory: { firing: heldBack, silenced: silencedIdents, at: memory?.at ?? now } };
  }
  if (kind === null) {
    // Nothing sent: keep what the channel heard of, minus alerts gone from the group.
    const present = new Set(input.alerts.filter((alert) => alert.state === 'firing').map(alertIdOf));
    const kept = (memory?.firing ?? []).filter((ident) => present.has(alertIdOfIdent(ident)));
    return { kind: null, alerts: [], newlySilenced, memory: { firing: kept, silenced: silencedIdents, at: memory?.at ?? now } };
  }
  const sent = kind === 'resolved' || (kind === 'firing' && input.policy.resolveNotices) ? [...firing, ...resolved] : firing;
  return { kind, alerts: sent, newlySilenced, memory: { firing: [...firing.map(identOf), ...heldBack], silenced: silencedIdents, at: now } };
}

/** Parses a stored `notified` column entry defensively. */
export function channelMemoryOf(value: unknown): ChannelMemory | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const entry = value as Record<string, unknown>;
  const strings = (list: unknown): string[] => (Array.isArray(list) ? list.filter((item): item is string => typeof item === 'string') : []);
  return { firing: strings(entry.firing), silenced: strings(entry.silenced), at: typeof entry.at === 'number' ? entry.at : 0 };
}
