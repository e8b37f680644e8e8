import { matchersOf, silenceMatches, silenceStateOf, type AlertService } from '../alerts/index.ts';
import type { Clock } from '../clock.ts';
import { isId } from '../ids.ts';
import type { AlertRecord, SilenceMatcher } from '../store/index.ts';
import type { Banner } from './home-page.ts';

const HOUR = 3_600_000;

/** The choices of the page's Silence button. A fixed list: the page never takes a free-form time. */
export const SILENCE_DURATIONS: Readonly<Record<string, { ms: number; label: string }>> = Object.freeze({
  '1h': { ms: HOUR, label: '1 h' },
  '4h': { ms: 4 * HOUR, label: '4 h' },
  '24h': { ms: 24 * HOUR, label: '24 h' },
});

/** Who made a silence from the page (the API records `api`, the CLI the operating-system user). */
export const PAGE_CREATOR = 'dashboard';

/** Why a Silence form was refused: the `silence_error` the page is redirected back with. */
export type SilenceProblem = 'invalid_duration' | 'alert_not_firing';

const PROBLEM_MESSAGES: Record<SilenceProblem, string> = {
  invalid_duration: 'Choose how long to silence the alert: 1 h, 4 h or 24 h.',
  alert_not_firing: 'That alert is not firing (any more), so nothing was silenced.',
};

/**
 * The matchers that silence exactly one alert: its type and its key.
 *
 * Severity is left out on purpose: a MEDIUM alert still firing after
 * TOKENKEEPER_ALERT_ESCALATE_AFTER becomes HIGH, and the operator who silenced it for 24 h
 * should not be woken by the escalation of the very alert they chose to silence.
 */
export function silenceMatchersFor(alert: Pick<AlertRecord, 'type' | 'key'>): SilenceMatcher[] {
  return matchersOf({ type: alert.type, key: alert.key });
}

/**
 * `POST /ui/alerts/silence`: silences the firing alert (type, key) named by the form for one of
 * SILENCE_DURATIONS. Bad input is an outcome, not an exception, so the page can show it in a
 * banner; only a storage failure throws.
 */
export async function silenceFromForm(
  deps: { alerts: AlertService; clock: Clock },
  form: Record<string, unknown>,
): Promise<{ silenceId: string } | { problem: SilenceProblem }> {
  const duration = typeof form.duration === 'string' && Object.hasOwn(SILENCE_DURATIONS, form.duration) ? SILENCE_DURATIONS[form.duration]! : null;
  if (duration === null) return { problem: 'invalid_duration' };
  const type = typeof form.type === 'string' ? form.type : '';
  const key = typeof form.key === 'string' ? form.key : '';
  if (type === '' || type.length > 64 || key === '' || key.length > 200) return { problem: 'alert_not_firing' };
  const alert = await deps.alerts.get(type, key);
  if (alert === null || alert.state !== 'firing') return { problem: 'alert_not_firing' };
  const silence = await deps.alerts.silence({
    matchers: silenceMatchersFor(alert),
    endsAt: deps.clock.now() + duration.ms,
    createdBy: PAGE_CREATOR,
    comment: `Silenced from the page for ${duration.label}: ${alert.type} ${alert.key}`,
  });
  return { silenceId: silence.id };
}

/**
 * The banner after a Silence form: `silenced=<silence id>` (read back from storage, so the page
 * states what is stored, never text from the address bar) or `silence_error=<problem>`.
 * `firing` is the page's list of firing alerts, to say how many the silence holds back.
 */
export async function silenceBannerFor(
  query: Record<string, unknown>,
  deps: { alerts: AlertService; clock: Clock },
  firing: readonly AlertRecord[],
): Promise<Banner | null> {
  const problem = query.silence_error;
  if (typeof problem === 'string' && problem !== '') {
    return {
      ok: false,
      title: 'Not silenced',
      message: Object.hasOwn(PROBLEM_MESSAGES, problem) ? PROBLEM_MESSAGES[problem as SilenceProblem] : 'The silence could not be created.',
      code: 'invalid_request',
    };
  }
  if (!isId(query.silenced, 'sil')) return null;
  const silence = await deps.alerts.findSilence(query.silenced);
  if (silence === null) return null;
  const held = firing.filter((alert) => silenceMatches(silence.matchers, alert)).length;
  const what = silence.matchers.map((matcher) => `${matcher.name}=${matcher.value}`).join(', ');
  const end = `tokenkeeper alerts unsilence ${silence.id} (or DELETE /v1/silences/${silence.id})`;
  if (silenceStateOf(silence, deps.clock.now()) === 'expired') {
    return { ok: true, title: 'Silence ended', message: `The silence of ${what} is over; its alerts are sent again.` };
  }
  return {
    ok: true,
    title: `Silenced until ${formatUtc(silence.endsAt)}`,
    message: `Alerts matching ${what} are recorded but not sent until then; ${held === 1 ? '1 firing alert is' : `${held} firing alerts are`} held back now. End it early with ${end}.`,
  };
}

/** `2025-06-01 14:03 UTC`: a time an operator reads, in the zone the alerts are stamped in. */
export function formatUtc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
