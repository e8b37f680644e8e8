import type { Clock } from '../clock.ts';
import type { RateLimit } from '../providers/index.ts';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts';
import type { CallOutcome, CircuitPass, CircuitStatus, CircuitTransition, OutboundLimits } from './outbound-limits.ts';
import { RateLimiter } from './rate-limiter.ts';

/**
 * Outbound limits in this process's memory: the embedded shape (SQLite), where one process is
 * the only one calling the provider. Exact and free for it; several processes would each allow
 * the whole limit, which is why PostgreSQL uses shared-outbound-limits.ts instead.
 */
export class LocalOutboundLimits implements OutboundLimits {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly limiters = new Map<string, { rateLimit: RateLimit; limits: string; limiter: RateLimiter }>();
  /** The limiter each slot came from, so it goes back there even if the limits changed meanwhile. */
  private readonly held = new Map<string, RateLimiter>();
  private readonly clock: Clock;
  private readonly circuit: CircuitBreakerOptions;

  constructor(options: { clock: Clock; circuit: CircuitBreakerOptions }) {
    this.clock = options.clock;
    this.circuit = options.circuit;
  }

  async pass(integrationId: string): Promise<CircuitPass> {
    return this.breakerFor(integrationId).tryPass();
  }

  async take(integrationId: string, permitId: string, rateLimit: RateLimit, maxWaitMs: number): Promise<boolean> {
    const limiter = this.limiterFor(integrationId, rateLimit);
    if (!(await limiter.acquire(maxWaitMs))) return false;
    this.held.set(permitId, limiter);
    return true;
  }

  async finish(integrationId: string, permitId: string, outcome: CallOutcome): Promise<CircuitTransition> {
    const limiter = this.held.get(permitId);
    if (limiter) {
      this.held.delete(permitId);
      limiter.release();
    }
    const breaker = this.breakerFor(integrationId);
    if (outcome === 'success') return breaker.recordSuccess() ? 'closed' : null;
    if (outcome === 'failure') return breaker.recordFailure() ? 'opened' : null;
    if (outcome === 'neutral') return breaker.recordNeutral() ? 'closed' : null;
    breaker.releaseUnused();
    return null;
  }

  async circuitStatus(integrationId: string): Promise<CircuitStatus> {
    return this.breakers.get(integrationId)?.status ?? 'closed';
  }

  private breakerFor(integrationId: string): CircuitBreaker {
    let breaker = this.breakers.get(integrationId);
    if (!breaker) this.breakers.set(integrationId, (breaker = new CircuitBreaker(this.circuit, this.clock)));
    return breaker;
  }

  /**
   * One limiter per integration, under the catalog's limits or the integration's `rateLimit`
   * setting. An integration updated with other limits gets a fresh limiter; permits already
   * handed out release into the old one, which nothing acquires from any more.
   */
  private limiterFor(integrationId: string, rateLimit: RateLimit): RateLimiter {
    const current = this.limiters.get(integrationId);
    // The guard hands the same object back while the integration is unchanged: no key to build.
    if (current?.rateLimit === rateLimit) return current.limiter;
    const limits = `${rateLimit.requestsPerMinute}/${rateLimit.concurrency}/${rateLimit.requestsPerSecond ?? '-'}`;
    if (current?.limits === limits) {
      current.rateLimit = rateLimit;
      return current.limiter;
    }
    const limiter = new RateLimiter(rateLimit, this.clock);
    this.limiters.set(integrationId, { rateLimit, limits, limiter });
    return limiter;
  }
}
