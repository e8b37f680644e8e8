/** IMF-fixdate, and the two obsolete forms RFC 9110 §5.6.7 still requires recipients to accept. */
const HTTP_DATE = [
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
];

/**
 * The longest wait a `Retry-After` can ask for: 24 hours. A provider may send `86400000` or a
 * date in the year 9999; taken at its word that parks a connection for years (and an absolute
 * "retry at" past 2^53 ms cannot be stored). This is only a hard ceiling so nothing downstream
 * overflows; the tokens side caps the actual cooldown lower (`TOKENKEEPER_MAX_COOLDOWN`).
 */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * `Retry-After` (RFC 9110 §10.2.3, sent with 429 per RFC 6585 §4 and with 503) is either
 * delay-seconds or an HTTP-date. Returns the delay in ms from `now` (0 for a date in the past),
 * at most MAX_RETRY_AFTER_MS, or null when the header is absent or not one of those forms.
 */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) {
    // Any run of digits is valid delay-seconds (1*DIGIT); a huge one becomes Infinity here and
    // the ceiling after it.
    return Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);
  }
  if (!HTTP_DATE.some((pattern) => pattern.test(value))) return null;
  // asctime has no zone: it is GMT by definition.
  const at = Date.parse(/GMT$/.test(value) ? value : `${value} GMT`);
  if (!Number.isFinite(at)) return null;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}
