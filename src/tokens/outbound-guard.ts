import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import type { Logger } from '../logger.ts';
import { effectiveRateLimit, type ProviderEntry } from '../providers/index.ts';
import { isStorageUnavailable, type Database, type IntegrationRecord } from '../store/index.ts';
import type { CircuitBreakerOptions } from './circuit-breaker.ts';
import { LocalOutboundLimits } from './local-outbound-limits.ts';
import type { CallOutcome, CircuitStatus, OutboundLimits } from './outbound-limits.ts';
import { SharedOutboundLimits } from './shared-outbound-limits.ts';

export type { CallOutcome, CircuitStatus } from './outbound-limits.ts';

export interface OutboundPermit {
  /**
   * Gives the rate-limiter slot back and records the outcome on the breaker. Call exactly once.
   * Never rejects; on shared limits it writes in the background (this instance's next `acquire`
   * for the integration waits for it), so awaiting it is optional.
   */
  release(outcome: CallOutcome): Promise<void>;
}

interface GuardedIntegration {
  record: Pick<IntegrationRecord, 'id' | 'key' | 'settings'>;
  provider: Pick<ProviderEntry, 'key' | 'displayName' | 'rateLimit'>;
}

export interface OutboundGuardOptions {
  clock: Clock;
  events: EventBus;
  circuit: CircuitBreakerOptions;
  /**
   * The cluster shape: limits and breakers kept in PostgreSQL and shared by every instance on the
   * database (shared-outbound-limits.ts). Absent: in this process's memory, for the embedded shape.
   */
  shared?: { db: Database; slotTtlMs: number };
  /** Where a permit that could not be given back to shared limits is reported. */
  logger?: Logger;
}

/**
 * Every outbound call to a provider — refresh, minting, revocation, userinfo, discovery — passes
 * through its integration's rate limiter (client-side limits, invariant 8) and circuit breaker.
 * One per integration, not per provider: two integrations of one provider have separate
 * credentials and quotas. Where the limits live (this process, or PostgreSQL for a cluster) is
 * the `OutboundLimits` behind it; the guard's part is the same for both: breaker first (an open
 * circuit fails fast without spending a token), then a token and a slot, and the
 * `circuit.opened` / `circuit.closed` events from the instance whose call made the transition.
 */
export class OutboundGuard {
  private readonly limits: OutboundLimits;
  private readonly events: EventBus;
  private readonly logger: Logger | undefined;
  private readonly failureThreshold: number;
  /** Permits being given back, per integration: this instance's next acquire sees their outcome. */
  private readonly finishing = new Map<string, Set<Promise<void>>>();

  constructor(options: OutboundGuardOptions) {
    this.events = options.events;
    this.logger = options.logger;
    this.failureThreshold = options.circuit.failureThreshold;
    this.limits = options.shared
      ? new SharedOutboundLimits({ db: options.shared.db, clock: options.clock, circuit: options.circuit, slotTtlMs: options.shared.slotTtlMs })
      : new LocalOutboundLimits({ clock: options.clock, circuit: options.circuit });
  }

  /**
   * Waits up to `maxWaitMs` for the rate limiter, after the breaker's permission. Throws
   * `circuit_open` or `provider_unavailable` (rate limit exhausted) when the call may not go out,
   * and `storage_unavailable` when shared limits cannot be read.
   */
  async acquire(integration: GuardedIntegration, maxWaitMs: number): Promise<OutboundPermit> {
    const integrationId = integration.record.id;
    await this.finished(integrationId);
    const permitId = randomUUID();
    const pass = await storageGuarded(() => this.limits.pass(integrationId, permitId));
    if (!pass.allowed) {
      throw new TokenkeeperError('circuit_open', `Calls to ${integration.provider.displayName} are paused after repeated failures.`, {
        retryAfterMs: pass.retryAfterMs,
      });
    }
    let taken = false;
    try {
      const rateLimit = effectiveRateLimit(integration.provider.rateLimit, integration.record.settings);
      taken = await storageGuarded(() => this.limits.take(integrationId, permitId, rateLimit, maxWaitMs));
    } finally {
      // A half-open pass that no call used goes back at once.
      if (!taken) void this.finish(integration, permitId, 'not_sent', false);
    }
    if (!taken) {
      throw new TokenkeeperError('provider_unavailable', 'The outbound rate limit for this provider is exhausted; retry shortly.', {
        retryAfterMs: 1_000,
      });
    }
    let released = false;
    return {
      release: (outcome) => {
        if (released) return Promise.resolve();
        released = true;
        return this.finish(integration, permitId, outcome, true);
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
    let result: T;
    try {
      result = await call();
    } catch (error) {
      await permit.release(options.isProviderFault(error) ? 'failure' : 'neutral');
      throw error;
    }
    await permit.release('success');
    return result;
  }

  /** The integration's breaker as this instance sees it (on PostgreSQL: as every instance does). */
  async circuitStatus(integrationId: string): Promise<CircuitStatus> {
    await this.finished(integrationId);
    return storageGuarded(() => this.limits.circuitStatus(integrationId));
  }

  /** Resolves when every permit given back so far is recorded (before the database closes). */
  async settled(): Promise<void> {
    await Promise.all([...this.finishing.values()].flatMap((pending) => [...pending]));
  }

  private async finished(integrationId: string): Promise<void> {
    const pending = this.finishing.get(integrationId);
    if (pending && pending.size > 0) await Promise.all(pending);
  }

  private finish(integration: GuardedIntegration, permitId: string, outcome: CallOutcome, holdsSlot: boolean): Promise<void> {
    const integrationId = integration.record.id;
    let pending = this.finishing.get(integrationId);
    if (!pending) this.finishing.set(integrationId, (pending = new Set()));
    const done: Promise<void> = this.limits.finish(integrationId, permitId, outcome, holdsSlot).then(
      (transition) => {
        const ref = { provider: integration.provider.key, integrationKey: integration.record.key };
        if (transition === 'opened') this.events.emit('circuit.opened', { ...ref, failures: this.failureThreshold });
        if (transition === 'closed') this.events.emit('circuit.closed', ref);
      },
      (error: unknown) => {
        // The slot lapses by itself; only this call's evidence for the breaker is lost.
        this.logger?.warn('could not give an outbound permit back; its slot lapses by itself', { integration: integration.record.key, outcome, error });
      },
    );
    pending.add(done);
    void done.finally(() => {
      pending.delete(done);
      if (pending.size === 0 && this.finishing.get(integrationId) === pending) this.finishing.delete(integrationId);
    });
    return done;
  }
}

/**
 * Shared limits live in the database: when it is unreachable the call cannot be cleared to go
 * out, and fails like any other storage trouble (503 `storage_unavailable`, retry), not as a bug.
 */
async function storageGuarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isStorageUnavailable(error)) {
      throw new TokenkeeperError('storage_unavailable', 'The outbound rate limits could not be read; retry shortly.', { cause: error, retryAfterMs: 1_000 });
    }
    throw error;
  }
}
