import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { effectiveRateLimit, type ProviderEntry } from '../providers/index.ts';
import type { IntegrationRecord } from '../store/index.ts';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts';
import { RateLimiter } from './rate-limiter.ts';

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

export interface OutboundPermit {
  /** Gives the rate-limiter slot back and records the outcome on the breaker. Call exactly once. */
  release(outcome: CallOutcome): void;
}

interface GuardedIntegration {
  record: Pick<IntegrationRecord, 'id' | 'key' | 'settings'>;
  provider: Pick<ProviderEntry, 'key' | 'displayName' | 'rateLimit'>;
}

/**
 * Every outbound call to a provider — refresh, minting, revocation, userinfo, discovery — passes
 * through its integration's rate limiter (client-side limits, invariant 8) and circuit breaker.
 * One per integration, not per provider: two integrations of one provider have separate
 * credentials and quotas.
 */
export class OutboundGuard {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly limiters = new Map<string, { limits: string; limiter: RateLimiter }>();
  private readonly clock: Clock;
  private readonly events: EventBus;
  private readonly circuit: CircuitBreakerOptions;

  constructor(options: { clock: Clock; events: EventBus; circuit: CircuitBreakerOptions }) {
    this.clock = options.clock;
    this.events = options.events;
    this.circuit = options.circuit;
  }

  /**
   * Waits up to `maxWaitMs` for the rate limiter, then for the breaker's permission. Throws
   * `circuit_open` or `provider_unavailable` (rate limit exhausted) when the call may not go out.
   */
  async acquire(integration: GuardedIntegration, maxWaitMs: number): Promise<OutboundPermit> {
    const breaker = this.breakerFor(integration.record.id);
    const pass = breaker.tryPass();
    if (!pass.allowed) {
      throw new TokenkeeperError('circuit_open', `Calls to ${integration.provider.displayName} are paused after repeated failures.`, {
        retryAfterMs: pass.retryAfterMs,
      });
    }
    const limiter = this.limiterFor(integration);
    if (!(await limiter.acquire(maxWaitMs))) {
      breaker.releaseUnused();
      throw new TokenkeeperError('provider_unavailable', 'The outbound rate limit for this provider is exhausted; retry shortly.', {
        retryAfterMs: 1_000,
      });
    }
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        limiter.release();
        if (outcome === 'success') {
          if (breaker.recordSuccess()) this.events.emit('circuit.closed', { provider: integration.provider.key, integrationKey: integration.record.key });
        } else if (outcome === 'failure') {
          if (breaker.recordFailure()) {
            this.events.emit('circuit.opened', { provider: integration.provider.key, integrationKey: integration.record.key, failures: this.circuit.failureThreshold });
          }
        } else if (outcome === 'neutral') {
          breaker.recordNeutral();
        } else {
          breaker.releaseUnused();
        }
      },
    };
  }

  /**
   * Runs one call under a permit. `isProviderFault` says whether a thrown error counts against
   * the provider (network, timeout, 5xx, 429); other errors are neutral.
   */
  async run<T>(
    integration: GuardedIntegration,
    call: () => Promise<T>,
    options: { maxWaitMs: number; isProviderFault: (error: unknown) => boolean },
  ): Promise<T> {
    const permit = await this.acquire(integration, options.maxWaitMs);
    try {
      const result = await call();
      permit.release('success');
      return result;
    } catch (error) {
      permit.release(options.isProviderFault(error) ? 'failure' : 'neutral');
      throw error;
    }
  }

  circuitStatus(integrationId: string): 'closed' | 'open' | 'half_open' {
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
  private limiterFor(integration: GuardedIntegration): RateLimiter {
    const rateLimit = effectiveRateLimit(integration.provider.rateLimit, integration.record.settings);
    const limits = `${rateLimit.requestsPerMinute}/${rateLimit.concurrency}`;
    const current = this.limiters.get(integration.record.id);
    if (current?.limits === limits) return current.limiter;
    const limiter = new RateLimiter(rateLimit, this.clock);
    this.limiters.set(integration.record.id, { limits, limiter });
    return limiter;
  }
}
