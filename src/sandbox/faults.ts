import { TokenkeeperError } from '../errors.ts';

/**
 * Switches that make the sandbox misbehave the way real providers do, so Tokenkeeper's retry,
 * classification and cooldown logic can be exercised against a real server. Most apply to the
 * token endpoint (POST /token); the `api…` ones to the demo API (`/api/*`), for the proxy's
 * refresh-and-retry and rate-limit handling. Every other route is honest.
 */
export interface SandboxFaults {
  /** Milliseconds added before the token endpoint answers (also before a faulty answer). */
  latencyMs: number;
  /** Share (0..1) of token requests answered with a 5xx and `{"error":"temporarily_unavailable"}`. */
  errorRate5xx: number;
  /** Share (0..1) of token requests answered 429 with `Retry-After` (RFC 6585 §4). */
  errorRate429: number;
  /** The 5xx status used by `errorRate5xx` and `next5xxCount` (500..599, default 503). */
  status5xx: number;
  /** Value of `Retry-After` (seconds, RFC 9110 §10.2.3) on 429 and 5xx answers, the demo API's included. */
  retryAfterSeconds: number;
  /**
   * The next N token requests are answered 5xx, then the switch turns itself off: a
   * deterministic "fails twice, then recovers" without juggling rates between requests.
   */
  next5xxCount: number;
  /** The next N token requests are answered 429 with `Retry-After`. */
  next429Count: number;
  /**
   * The token endpoint answers 200 with an HTML body that is not JSON. The request is not
   * passed on, so no code or refresh token is consumed.
   */
  garbage: boolean;
  /** Successful token responses leave out `expires_in` (RFC 6749 §5.1 only recommends it). */
  omitExpiresIn: boolean;
  /**
   * Successful token responses carry this `expires_in` instead of the real one (e.g. `"3600"`
   * as a string, or `-5`); null leaves it alone. Tokens still expire at their real time.
   */
  expiresInValue: number | string | null;
  /**
   * Enforces a provider rate limit: above this many token requests in the current one-second
   * window (which starts at the first request after the last one ended), requests are answered
   * 429 `temporarily_unavailable` with `Retry-After: 1` and counted in the stats' `rateLimited`.
   * null: no limit.
   */
  rateLimitPerSecond: number | null;
  /**
   * The next N demo API requests are answered 401 `invalid_token` whatever their token, as a
   * provider does with a token it stopped honouring early: a client must refresh and retry.
   */
  apiNext401Count: number;
  /** The next N demo API requests are answered 429 with `Retry-After` (RFC 6585 §4). */
  apiNext429Count: number;
  /** The next N demo API requests are answered `status5xx` with `Retry-After`. */
  apiNext5xxCount: number;
}

export const DEFAULT_FAULTS: Readonly<SandboxFaults> = Object.freeze({
  latencyMs: 0,
  errorRate5xx: 0,
  errorRate429: 0,
  status5xx: 503,
  retryAfterSeconds: 1,
  next5xxCount: 0,
  next429Count: 0,
  garbage: false,
  omitExpiresIn: false,
  expiresInValue: null,
  rateLimitPerSecond: null,
  apiNext401Count: 0,
  apiNext429Count: 0,
  apiNext5xxCount: 0,
});

type Check = (value: unknown) => boolean;
const nonNegativeInteger: Check = (value) => Number.isSafeInteger(value) && (value as number) >= 0;
const share: Check = (value) => typeof value === 'number' && value >= 0 && value <= 1;
const CHECKS: Record<keyof SandboxFaults, [Check, string]> = {
  latencyMs: [(value) => nonNegativeInteger(value) && (value as number) <= 600_000, 'an integer from 0 to 600000'],
  errorRate5xx: [share, 'a number from 0 to 1'],
  errorRate429: [share, 'a number from 0 to 1'],
  status5xx: [(value) => Number.isInteger(value) && (value as number) >= 500 && (value as number) <= 599, 'an integer from 500 to 599'],
  retryAfterSeconds: [nonNegativeInteger, 'a non-negative integer'],
  next5xxCount: [nonNegativeInteger, 'a non-negative integer'],
  next429Count: [nonNegativeInteger, 'a non-negative integer'],
  garbage: [(value) => typeof value === 'boolean', 'true or false'],
  omitExpiresIn: [(value) => typeof value === 'boolean', 'true or false'],
  expiresInValue: [(value) => value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)), 'a number, a string or null'],
  rateLimitPerSecond: [(value) => value === null || (Number.isSafeInteger(value) && (value as number) >= 1), 'a positive integer or null'],
  apiNext401Count: [nonNegativeInteger, 'a non-negative integer'],
  apiNext429Count: [nonNegativeInteger, 'a non-negative integer'],
  apiNext5xxCount: [nonNegativeInteger, 'a non-negative integer'],
};

/**
 * Validates a partial fault setting (from code or from `POST /_sandbox/faults`) and returns it
 * typed. Unknown keys and out-of-range values are refused loudly rather than ignored: a typo in
 * a test's fault switch would otherwise make the test pass for the wrong reason.
 */
export function parseFaults(input: unknown): Partial<SandboxFaults> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TokenkeeperError('invalid_request', 'Faults must be a JSON object.');
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(CHECKS, key)) {
      throw new TokenkeeperError('invalid_request', `Unknown fault "${key}"; known: ${Object.keys(CHECKS).join(', ')}.`);
    }
    const [check, expected] = CHECKS[key as keyof SandboxFaults];
    if (!check(value)) throw new TokenkeeperError('invalid_request', `Fault "${key}" must be ${expected}.`);
    out[key] = value;
  }
  return out as Partial<SandboxFaults>;
}

/** What the token endpoint does with one request, decided before the provider sees it. */
export type FaultDecision =
  | { kind: 'pass' }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | { kind: 'unavailable'; status: number; retryAfterSeconds: number }
  | { kind: 'garbage' };

/**
 * Decides one request's fate and consumes a `next…Count` if one applies. One random draw covers
 * both rates so they are disjoint shares: 0.3 and 0.2 mean 30 % 429s, 20 % 5xx, 50 % pass.
 */
export function decideFault(faults: SandboxFaults, random: () => number): FaultDecision {
  const retryAfterSeconds = faults.retryAfterSeconds;
  if (faults.next429Count > 0) {
    faults.next429Count -= 1;
    return { kind: 'rate_limited', retryAfterSeconds };
  }
  if (faults.next5xxCount > 0) {
    faults.next5xxCount -= 1;
    return { kind: 'unavailable', status: faults.status5xx, retryAfterSeconds };
  }
  if (faults.errorRate429 > 0 || faults.errorRate5xx > 0) {
    const draw = random();
    if (draw < faults.errorRate429) return { kind: 'rate_limited', retryAfterSeconds };
    if (draw < faults.errorRate429 + faults.errorRate5xx) return { kind: 'unavailable', status: faults.status5xx, retryAfterSeconds };
  }
  if (faults.garbage) return { kind: 'garbage' };
  return { kind: 'pass' };
}

/** What the demo API does with one request, decided before its token is looked at. */
export type ApiFaultDecision =
  | { kind: 'pass' }
  | { kind: 'unauthorized' }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | { kind: 'unavailable'; status: number; retryAfterSeconds: number };

/** Decides one demo API request's fate and consumes the `apiNext…Count` that applies. */
export function decideApiFault(faults: SandboxFaults): ApiFaultDecision {
  if (faults.apiNext401Count > 0) {
    faults.apiNext401Count -= 1;
    return { kind: 'unauthorized' };
  }
  if (faults.apiNext429Count > 0) {
    faults.apiNext429Count -= 1;
    return { kind: 'rate_limited', retryAfterSeconds: faults.retryAfterSeconds };
  }
  if (faults.apiNext5xxCount > 0) {
    faults.apiNext5xxCount -= 1;
    return { kind: 'unavailable', status: faults.status5xx, retryAfterSeconds: faults.retryAfterSeconds };
  }
  return { kind: 'pass' };
}
