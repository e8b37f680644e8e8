import type { RateLimit } from './types.ts';

/**
 * Bounds of the `rateLimit` setting. Below 1 nothing could ever go out; above these a value is
 * a typo (a quota in requests per day, a pasted timestamp) rather than a limit anyone means.
 * The limit covers the application's proxied calls and actions, not only token requests, so the
 * per-minute bound is the per-second one's minute (10,000/s × 60): a lower one would make the
 * per-second bound unreachable. Concurrency stays at 1,000: that many calls in flight at 100 ms
 * each already carry 10,000/s, and on PostgreSQL each slot in flight is an entry the shared row
 * rewrites on every call (store/outbound-limits-table.ts), so more would only make that row heavier.
 */
export const RATE_LIMIT_BOUNDS: Readonly<Record<keyof RateLimit, { min: number; max: number }>> = Object.freeze({
  requestsPerMinute: { min: 1, max: 600_000 },
  concurrency: { min: 1, max: 1_000 },
  requestsPerSecond: { min: 1, max: 10_000 },
});

const FIELDS = Object.keys(RATE_LIMIT_BOUNDS) as Array<keyof RateLimit>;

function inBounds(field: keyof RateLimit, value: unknown): value is number {
  const { min, max } = RATE_LIMIT_BOUNDS[field];
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** Checks the `rateLimit` setting; every problem is reported, prefixed with its path. */
export function validateRateLimitSetting(value: unknown): { problems: string[]; rateLimit: Partial<RateLimit> } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problems: ['rateLimit must be an object with requestsPerMinute, requestsPerSecond and/or concurrency'], rateLimit: {} };
  }
  const problems: string[] = [];
  const rateLimit: Partial<RateLimit> = {};
  for (const [field, fieldValue] of Object.entries(value)) {
    if (!(FIELDS as string[]).includes(field)) {
      problems.push(`rateLimit.${field} is not a rate limit setting (known: ${FIELDS.join(', ')})`);
    } else if (!inBounds(field as keyof RateLimit, fieldValue)) {
      const { min, max } = RATE_LIMIT_BOUNDS[field as keyof RateLimit];
      problems.push(`rateLimit.${field} must be an integer from ${min} to ${max}`);
    } else rateLimit[field as keyof RateLimit] = fieldValue;
  }
  return { problems, rateLimit };
}

/**
 * The limits an integration's outbound calls run under: the catalog's, with each field the
 * integration's settings give taken from there. Settings are validated when written; a stored
 * value that is somehow out of bounds falls back to the catalog's rather than to no limit.
 */
export function effectiveRateLimit(catalog: RateLimit, settings: unknown): RateLimit {
  const override = settings !== null && typeof settings === 'object' ? (settings as { rateLimit?: unknown }).rateLimit : undefined;
  if (override === null || typeof override !== 'object') return catalog;
  const pick = (field: keyof RateLimit): number | undefined => {
    const value = (override as Record<string, unknown>)[field];
    return inBounds(field, value) ? value : catalog[field];
  };
  const perSecond = pick('requestsPerSecond');
  return {
    requestsPerMinute: pick('requestsPerMinute')!,
    concurrency: pick('concurrency')!,
    ...(perSecond === undefined ? {} : { requestsPerSecond: perSecond }),
  };
}
