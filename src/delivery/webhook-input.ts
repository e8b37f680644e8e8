import { closestMatch } from '../closest-match.ts';
import { TokenkeeperError } from '../errors.ts';
import { APP_EVENT_TYPES, DEFAULT_APP_EVENT_TYPES, isAppEventType, type AppEventType } from './app-event-types.ts';

/** Long enough for any real endpoint with a token in its query; short enough to show in a list. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

export const WEBHOOK_URL_EXAMPLE = 'https://app.example.com/hooks/tokenkeeper';

/**
 * What is wrong with an endpoint URL, or null: an absolute `http://` or `https://` URL without a
 * user name or password (the signature is what authenticates Tokenkeeper to the receiver, and a
 * password in a URL would be shown in every listing). Shared by the API, the CLI and the
 * TOKENKEEPER_APP_WEBHOOK_URL check.
 */
export function webhookUrlProblem(value: string): string | null {
  if (value.length > MAX_WEBHOOK_URL_LENGTH) return `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `is not an absolute URL; use e.g. ${WEBHOOK_URL_EXAMPLE}`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `must start with https:// (or http://), e.g. ${WEBHOOK_URL_EXAMPLE}`;
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password: receivers authenticate Tokenkeeper by the webhook signature';
  if (url.hash !== '') return 'must not have a #fragment (it is never sent to the server)';
  return null;
}

/** The endpoint URL, or `invalid_request` saying what is wrong with it. */
export function checkWebhookUrl(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid([`url is required: the endpoint that receives the events, e.g. ${WEBHOOK_URL_EXAMPLE}`]);
  }
  const problem = webhookUrlProblem(value.trim());
  if (problem) throw invalid([`url ${problem}`]);
  return value.trim();
}

/**
 * The event filter: the given names (each checked, duplicates dropped, in the catalogue's order),
 * or, when none is given, every event but `connection.refreshed`. A wrong name is refused with
 * the closest real one and the whole list, never silently ignored (a typo would otherwise be an
 * endpoint that never hears of what it was made for).
 */
export function checkEventFilter(value: unknown): AppEventType[] {
  if (value === undefined || value === null) return [...DEFAULT_APP_EVENT_TYPES];
  if (!Array.isArray(value)) throw invalid([`events must be a list of event names: ${APP_EVENT_TYPES.join(', ')}`]);
  if (value.length === 0) throw invalid(['events must name at least one event; leave it out for every event but connection.refreshed']);
  const problems: string[] = [];
  for (const name of value) {
    if (isAppEventType(name)) continue;
    const shown = JSON.stringify(typeof name === 'string' ? name.slice(0, 60) : name);
    const suggestion = typeof name === 'string' ? closestMatch(name, APP_EVENT_TYPES) : null;
    problems.push(`events: ${shown} is not an event${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; the events are ${APP_EVENT_TYPES.join(', ')}`);
  }
  if (problems.length > 0) throw invalid(problems);
  return APP_EVENT_TYPES.filter((type) => value.includes(type));
}

function invalid(problems: string[]): TokenkeeperError {
  return new TokenkeeperError('invalid_request', `Invalid request: ${problems.join('; ')}.`, { details: { problems } });
}
