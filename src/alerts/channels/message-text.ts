import type { GroupNotification, NotificationKind, NotifiedAlert } from '../channel.ts';

/**
 * Plain-text renderings shared by the channels, so an operator reads the same words on every
 * medium: a status word, the engine's title and text, and one line per alert.
 */

const KIND_WORDS: Record<NotificationKind, string> = {
  firing: 'FIRING',
  repeat: 'STILL FIRING',
  resolved: 'RESOLVED',
  test: 'TEST',
};

/** `FIRING`, `STILL FIRING`, `RESOLVED` or `TEST`. */
export function kindWord(kind: NotificationKind): string {
  return KIND_WORDS[kind];
}

/** `[HIGH] connection_needs_reauth c_123: summary (integration=google)`. */
export function alertLine(alert: NotifiedAlert): string {
  const labels = Object.entries(alert.labels)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  const state = alert.state === 'resolved' ? ' (resolved)' : '';
  return `[${alert.severity}] ${alert.type} ${alert.key}: ${alert.summary}${state}${labels ? ` (${labels})` : ''}`;
}

/** At most `max` alert lines, then "… and N more". */
export function alertLines(notification: GroupNotification, max: number): string[] {
  const lines = notification.alerts.slice(0, max).map(alertLine);
  const rest = notification.alerts.length - lines.length;
  if (rest > 0) lines.push(`... and ${rest} more`);
  return lines;
}

/** The whole message as plain text: for e-mail bodies and logs. */
export function plainText(notification: GroupNotification, maxAlerts = 50): string {
  return [
    `${kindWord(notification.kind)}: ${notification.text}`,
    '',
    ...alertLines(notification, maxAlerts),
    '',
    `group: ${notification.groupKey}`,
    `severity: ${notification.severity}`,
    `notification: ${notification.id} at ${notification.createdAt}`,
  ].join('\n');
}
