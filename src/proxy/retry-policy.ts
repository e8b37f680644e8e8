import { parseRetryAfter } from '../oauth/index.ts';
import { fullJitterDelay } from '../tokens/index.ts';
import type { HeaderValues } from './headers.ts';

/**
 * Methods that RFC 9110 §9.2.2 defines as idempotent (and the safe ones, §9.2.1): sending one
 * twice has the effect of sending it once, so a 429 or 503 may be retried without asking.
 */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * Whether a call refused with 429 or 503 may be sent again: idempotent methods always; others
 * only with the caller's `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header), which it
 * sends to the provider as well, so the provider itself can tell a retry from a second call.
 */
export function mayRetry(method: string, headers: HeaderValues): boolean {
  if (IDEMPOTENT_METHODS.has(method)) return true;
  const key = headers['idempotency-key'];
  return typeof key === 'string' && key.trim() !== '';
}

/** Statuses that mean "not now" (RFC 6585 §4, RFC 9110 §15.6.4) and may carry `Retry-After`. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 503;
}

/** Without `Retry-After`: exponential backoff with full jitter (tokens/backoff.ts says why). */
const FALLBACK_BACKOFF = { baseMs: 250, maxMs: 2_000 };

/** How long to wait before retry number `attempt` (0-based): the provider's `Retry-After`, else a backoff. */
export function retryDelayMs(retryAfter: string | string[] | undefined, attempt: number, now: number, random: () => number = Math.random): number {
  const header = Array.isArray(retryAfter) ? (retryAfter[0] ?? null) : (retryAfter ?? null);
  return parseRetryAfter(header, now) ?? fullJitterDelay(attempt, FALLBACK_BACKOFF, random);
}
