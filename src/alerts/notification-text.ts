import type { AlertRecord } from '../store/index.ts';
import type { NotificationKind } from './channel.ts';

/**
 * How a group of alerts of one type reads in one line, for types that know better than the
 * generic text: `(count, groupLabels) => "3 google connections need re-authorization"`. The
 * built-in rules (later) register theirs here.
 */
export type GroupPhrase = (count: number, groupLabels: Record<string, string>) => string;

export const GROUP_PHRASES: Readonly<Record<string, GroupPhrase>> = Object.freeze({
  connection_needs_reauth: (count, labels) =>
    `${count} ${labels.integration ? `${labels.integration} ` : ''}connection${count === 1 ? ' needs' : 's need'} re-authorization`,
  channel_failing: (count, labels) => (count === 1 && labels.channel ? `alert channel ${labels.channel} is failing` : `${count} alert channels are failing`),
});

function labelsText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : ` (${entries.map(([name, value]) => `${name} ${value}`).join(', ')})`;
}

/**
 * The title and one-line text of a group notification. Firing: the one alert's summary, or the
 * phrase for the firing alerts ("3 google connections need re-authorization"), or "3
 * connection_stuck alerts (integration google)"; resolved: the same prefixed with "Resolved:".
 */
export function notificationTexts(
  kind: NotificationKind,
  type: string,
  alerts: readonly Pick<AlertRecord, 'state' | 'summary'>[],
  groupLabels: Record<string, string>,
  phrases: Readonly<Record<string, GroupPhrase>> = GROUP_PHRASES,
): { title: string; text: string } {
  const firing = alerts.filter((alert) => alert.state === 'firing');
  const resolved = alerts.length - firing.length;
  const about = kind === 'resolved' ? alerts : firing;
  const phrase = phrases[type];
  let line: string;
  // One alert reads as its own summary, which names what it is about (the connection, the
  // integration); several as the type's phrase or a count.
  if (about.length === 1 && about[0]!.summary) line = about[0]!.summary;
  else if (phrase) line = phrase(about.length, groupLabels);
  else if (about.length === 1) line = `${type}${labelsText(groupLabels)}`;
  else line = `${about.length} ${type} alerts${labelsText(groupLabels)}`;
  let text: string;
  if (kind === 'resolved') text = `Resolved: ${line}`;
  else text = resolved > 0 ? `${line}; ${resolved} resolved` : line;
  const state = kind === 'resolved' ? 'RESOLVED' : kind === 'test' ? 'TEST' : `FIRING:${firing.length}`;
  const title = `[${state}] ${type}${Object.values(groupLabels).length > 0 ? ` ${Object.values(groupLabels).join(' ')}` : ''}`;
  return { title, text };
}
