import { TokenkeeperError } from '../errors.ts';
import type { SilenceMatcher, SilenceRecord } from '../store/index.ts';
import type { AlertService } from './alert-service.ts';
import { isSeverity, type Severity } from './channel.ts';

/** Where a silence is in its life at a given time. Expired ones are kept for history. */
export type SilenceState = 'active' | 'pending' | 'expired';

export function silenceStateOf(silence: SilenceRecord, now: number): SilenceState {
  if (silence.expiredAt !== null || silence.endsAt <= now) return 'expired';
  return silence.startsAt > now ? 'pending' : 'active';
}

/** What a silence matches, as the API and the CLI spell it: an alert type, an alert key, a severity, label values. */
export interface SilenceMatchers {
  type?: string;
  /** One alert's key (a connection id, an integration key): with `type`, exactly that alert. */
  key?: string;
  severity?: Severity;
  labels?: Record<string, string>;
}

const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;

/**
 * The stored matchers of a silence (`{name, value}`, every one must equal), from the API's
 * shape. At least one is required: a silence of everything is the global silence, asked for by
 * its own route (`POST /v1/silences/all`) so that it is never made by leaving a field out.
 */
export function matchersOf(input: SilenceMatchers): SilenceMatcher[] {
  const problems: string[] = [];
  const matchers: SilenceMatcher[] = [];
  if (input.type !== undefined) {
    if (!NAME.test(input.type)) problems.push(`type must be an alert type (lower-case letters, digits and _ . -), not ${JSON.stringify(input.type.slice(0, 64))}`);
    else matchers.push({ name: 'type', value: input.type });
  }
  if (input.key !== undefined) {
    if (typeof input.key !== 'string' || input.key.length === 0 || input.key.length > 200) problems.push('key must be an alert key of 1 to 200 characters');
    else matchers.push({ name: 'key', value: input.key });
  }
  if (input.severity !== undefined) {
    if (!isSeverity(input.severity)) problems.push(`severity must be LOW, MEDIUM or HIGH, not ${JSON.stringify(String(input.severity).slice(0, 20))}`);
    else matchers.push({ name: 'severity', value: input.severity });
  }
  for (const [name, value] of Object.entries(input.labels ?? {})) {
    if (name === 'type' || name === 'severity' || name === 'key') problems.push(`a label matcher cannot be named ${name}; use the ${name} field`);
    else if (!NAME.test(name)) problems.push(`label ${JSON.stringify(name.slice(0, 64))} is not a label name (lower-case letters, digits and _ . -)`);
    else if (typeof value !== 'string' || value.length > 200) problems.push(`label ${name} must be a string of at most 200 characters`);
    else matchers.push({ name, value });
  }
  if (problems.length === 0 && matchers.length === 0) {
    problems.push('a silence needs at least one matcher (type, key, severity or labels); to silence every alert, use the global silence (POST /v1/silences/all, `tokenkeeper alerts silence --all`)');
  }
  if (problems.length > 0) throw new TokenkeeperError('invalid_request', `Invalid silence: ${problems.join('; ')}.`, { details: { problems } });
  return matchers;
}

/** Expires one silence (kept for history) and returns it; an unknown id is `silence_not_found`, one already over is returned as it is. */
export async function expireSilenceById(alerts: AlertService, id: string): Promise<SilenceRecord> {
  await alerts.expireSilence(id);
  const silence = await alerts.findSilence(id);
  if (!silence) throw new TokenkeeperError('silence_not_found', `No silence "${id}".`);
  return silence;
}

/** The API's and the CLI's `--json` shape of a silence. */
export function silenceToJson(silence: SilenceRecord, now: number): Record<string, unknown> {
  const labels: Record<string, string> = {};
  let type: string | null = null;
  let key: string | null = null;
  let severity: string | null = null;
  for (const matcher of silence.matchers) {
    if (matcher.name === 'type') type = matcher.value;
    else if (matcher.name === 'key') key = matcher.value;
    else if (matcher.name === 'severity') severity = matcher.value;
    else labels[matcher.name] = matcher.value;
  }
  return {
    id: silence.id,
    matchers: { type, key, severity, labels },
    global: silence.matchers.length === 0,
    state: silenceStateOf(silence, now),
    starts_at: new Date(silence.startsAt).toISOString(),
    ends_at: new Date(silence.endsAt).toISOString(),
    created_by: silence.createdBy,
    comment: silence.comment,
    created_at: new Date(silence.createdAt).toISOString(),
    expired_at: silence.expiredAt === null ? null : new Date(silence.expiredAt).toISOString(),
  };
}
