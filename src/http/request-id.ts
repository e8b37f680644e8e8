import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * A caller's `x-request-id` (a proxy's or a client's trace id) is kept when it is printable
 * ASCII of at most 200 characters, so it can go into a header and a log line as it is; anything
 * else (missing, too long, control or non-ASCII characters) is replaced by a random UUID rather
 * than refused: the id is for finding a request, never a reason to fail it.
 */
const ACCEPTED = /^[\x21-\x7e][\x20-\x7e]{0,199}$/;

export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && ACCEPTED.test(given) ? given : randomUUID();
}

/**
 * The error code a request was answered with, for its `request completed` line; kept beside the
 * request (not on it) so nothing else can read or change it, and gone with the request.
 */
const answeredErrors = new WeakMap<object, string>();

export function noteAnsweredError(request: object, code: string): void {
  answeredErrors.set(request, code);
}

export function answeredErrorOf(request: object): string | undefined {
  return answeredErrors.get(request);
}
