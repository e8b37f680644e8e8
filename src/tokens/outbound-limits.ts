import type { RateLimit } from '../providers/index.ts';

/** What a call that went out said about the provider's health. */
export type CallOutcome =
  /** The provider answered normally. */
  | 'success'
  /** Network error, timeout, 5xx, 429: counts towards opening the circuit. */
  | 'failure'
  /** The provider answered, but with an error about the request (e.g. invalid_grant): it is up. */
  | 'neutral'
  /** No call went out after all (e.g. the lease was taken by another process meanwhile). */
  | 'not_sent';

export type CircuitStatus = 'closed' | 'open' | 'half_open';

/** A circuit transition the call that ended made (the instance that made it announces it). */
export type CircuitTransition = 'opened' | 'closed' | null;

export type CircuitPass = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Where an integration's rate limit, concurrency slots and circuit breaker live: this process's
 * memory (the embedded shape, local-outbound-limits.ts) or PostgreSQL, shared by every instance
 * (the cluster shape, shared-outbound-limits.ts). The guard (outbound-guard.ts) drives either the
 * same way, one permit id per call.
 */
export interface OutboundLimits {
  /** The breaker's permission. When half-open, only one permit at a time is let through. */
  pass(integrationId: string, permitId: string): Promise<CircuitPass>;
  /** A rate-limit token and a concurrency slot, waiting up to `maxWaitMs`; false past that. */
  take(integrationId: string, permitId: string, rateLimit: RateLimit, maxWaitMs: number): Promise<boolean>;
  /**
   * The permit is done: gives its slot back (when `holdsSlot`) and records the outcome on the
   * breaker; says whether this opened or closed the circuit.
   */
  finish(integrationId: string, permitId: string, outcome: CallOutcome, holdsSlot: boolean): Promise<CircuitTransition>;
  circuitStatus(integrationId: string): Promise<CircuitStatus>;
}
