import type { Clock } from '../clock.ts';

/**
 * A per-provider circuit breaker in this process's memory (one per integration: two integrations
 * of the same provider have separate credentials and quotas). After `failureThreshold`
 * consecutive transient failures it opens: calls fail fast with `circuit_open` instead of adding
 * load to a provider that is already down. After `openMs` one trial call is let through
 * (half-open); its success closes the circuit, its failure opens it again. On PostgreSQL the same
 * states live in the database, shared by every instance (shared-outbound-limits.ts).
 */
export interface CircuitBreakerOptions {
  failureThreshold: number;
  openMs: number;
}

type State = { kind: 'closed'; failures: number } | { kind: 'open'; until: number } | { kind: 'half_open'; trialRunning: boolean };

export class CircuitBreaker {
  private state: State = { kind: 'closed', failures: 0 };
  private readonly options: CircuitBreakerOptions;
  private readonly clock: Clock;

  constructor(options: CircuitBreakerOptions, clock: Clock) {
    this.options = options;
    this.clock = clock;
  }

  /** Whether a call may go out now; in half-open state only one trial at a time. */
  tryPass(): { allowed: true } | { allowed: false; retryAfterMs: number } {
    const state = this.state;
    if (state.kind === 'closed') return { allowed: true };
    if (state.kind === 'open') {
      const now = this.clock.now();
      if (now < state.until) return { allowed: false, retryAfterMs: state.until - now };
      this.state = { kind: 'half_open', trialRunning: true };
      return { allowed: true };
    }
    if (state.trialRunning) return { allowed: false, retryAfterMs: 1000 };
    state.trialRunning = true;
    return { allowed: true };
  }

  /** Returns true when this success closed an open/half-open circuit. */
  recordSuccess(): boolean {
    const wasOpen = this.state.kind !== 'closed';
    this.state = { kind: 'closed', failures: 0 };
    return wasOpen;
  }

  /** Returns true when this failure opened the circuit. */
  recordFailure(): boolean {
    const state = this.state;
    if (state.kind === 'half_open') {
      this.state = { kind: 'open', until: this.clock.now() + this.options.openMs };
      return false;
    }
    if (state.kind === 'open') return false;
    state.failures += 1;
    if (state.failures >= this.options.failureThreshold) {
      this.state = { kind: 'open', until: this.clock.now() + this.options.openMs };
      return true;
    }
    return false;
  }

  /** A pass that was granted but not used (no call went out): frees the half-open trial slot. */
  releaseUnused(): void {
    if (this.state.kind === 'half_open') this.state.trialRunning = false;
  }

  /**
   * A call the provider answered with an error about the request (e.g. a permanent error): it is
   * up. Resets the failure count; a half-open circuit closes. Returns true when this closed it.
   */
  recordNeutral(): boolean {
    if (this.state.kind === 'half_open') {
      this.state = { kind: 'closed', failures: 0 };
      return true;
    }
    if (this.state.kind === 'closed') this.state.failures = 0;
    return false;
  }

  get status(): 'closed' | 'open' | 'half_open' {
    return this.state.kind;
  }
}
