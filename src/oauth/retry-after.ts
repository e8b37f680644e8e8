/** IMF-fixdate, and the two obsolete forms RFC 9110 §5.6.7 still requires recipients to accept. */
const HTTP_DATE = [
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
];

/**
 * `Retry-After` (RFC 9110 §10.2.3, sent with 429 per RFC 6585 §4 and with 503) is either
 * delay-seconds or an HTTP-date. Returns the delay in ms from `now` (0 for a date in the past),
 * or null when the header is absent or not one of those forms.
 */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) {
    const seconds = Number(value);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : null;
  }
  if (!HTTP_DATE.some((pattern) => pattern.test(value))) return null;
  // asctime has no zone: it is GMT by definition.
  const at = Date.parse(/GMT$/.test(value) ? value : `${value} GMT`);
  if (!Number.isFinite(at)) return null;
  return Math.max(0, at - now);
}
