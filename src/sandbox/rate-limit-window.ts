/**
 * The sandbox's enforced provider rate limit (the `rateLimitPerSecond` switch): a fixed
 * one-second window that opens at the first request after the previous window closed. Anchoring
 * it to a request rather than to wall-clock second boundaries means a burst sent at once is never
 * split across two windows, so "N pass, the rest get 429" holds without timing luck.
 */
export class RateLimitWindow {
  #windowStart = Number.NEGATIVE_INFINITY;
  #admitted = 0;

  /** True if a request arriving at `now` (ms) is within `perSecond`; false if it is over. */
  admit(perSecond: number, now: number): boolean {
    if (now - this.#windowStart >= 1_000) {
      this.#windowStart = now;
      this.#admitted = 0;
    }
    if (this.#admitted >= perSecond) return false;
    this.#admitted += 1;
    return true;
  }
}
