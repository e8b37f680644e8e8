/**
 * Counts of token-endpoint requests as they arrive, before any fault is applied, so a test can
 * assert "exactly one refresh call reached the provider" even when the answer was a fault.
 */
export interface SandboxStats {
  tokenRequests: number;
  /** Keyed by the request's `grant_type`; `(missing)` when it had none. */
  byGrantType: Record<string, number>;
}

export class TokenRequestStats {
  #total = 0;
  #byGrantType = new Map<string, number>();

  record(grantType: string | undefined): void {
    const key = grantType === undefined || grantType === '' ? '(missing)' : grantType;
    this.#total += 1;
    this.#byGrantType.set(key, (this.#byGrantType.get(key) ?? 0) + 1);
  }

  snapshot(): SandboxStats {
    return { tokenRequests: this.#total, byGrantType: Object.fromEntries(this.#byGrantType) };
  }

  reset(): void {
    this.#total = 0;
    this.#byGrantType.clear();
  }
}
