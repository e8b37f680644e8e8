/**
 * Counts of token-endpoint requests as they arrive, before any fault is applied, so a test can
 * assert "exactly one refresh call reached the provider" even when the answer was a fault.
 */
export interface SandboxStats {
  tokenRequests: number;
  /** Keyed by the request's `grant_type`; `(missing)` when it had none. */
  byGrantType: Record<string, number>;
  /** Requests answered 429 by the `rateLimitPerSecond` switch: the "429s provoked" of a benchmark. */
  rateLimited: number;
  /** The most token requests the sandbox was handling at one moment: a client's concurrency, observed. */
  maxInFlight: number;
}

export class TokenRequestStats {
  #total = 0;
  #byGrantType = new Map<string, number>();
  #rateLimited = 0;
  #inFlight = 0;
  #maxInFlight = 0;

  record(grantType: string | undefined): void {
    const key = grantType === undefined || grantType === '' ? '(missing)' : grantType;
    this.#total += 1;
    this.#byGrantType.set(key, (this.#byGrantType.get(key) ?? 0) + 1);
  }

  recordRateLimited(): void {
    this.#rateLimited += 1;
  }

  /** A request arrived; call `left()` once it has been answered. */
  entered(): void {
    this.#inFlight += 1;
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
  }

  left(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }

  snapshot(): SandboxStats {
    return {
      tokenRequests: this.#total,
      byGrantType: Object.fromEntries(this.#byGrantType),
      rateLimited: this.#rateLimited,
      maxInFlight: this.#maxInFlight,
    };
  }

  /** Zeroes the counts; requests still being handled stay in flight. */
  reset(): void {
    this.#total = 0;
    this.#byGrantType.clear();
    this.#rateLimited = 0;
    this.#maxInFlight = this.#inFlight;
  }
}
