import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import type { Logger } from '../logger.ts';
import { effectiveRateLimit, type ProviderEntry, type RateLimit } from '../providers/index.ts';
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
  /** Whether the limits live in the database, whose errors `acquire` reports as `storage_unavailable`. */
  private readonly stored: boolean;
  private readonly events: EventBus;
  private readonly logger: Logger | undefined;
  private readonly failureThreshold: number;
  /** Permits being given back, per integration: this instance's next acquire sees their outcome. */
  private readonly finishing = new Map<string, Set<Promise<void>>>();
  /**
   * Permit ids are this random prefix and a counter: unique among every instance on the database
   * (shared limits key concurrency slots and the half-open probe by them), as a UUID per permit
   * would be, without paying for one on every proxied call.
   */
  private readonly permitIdPrefix = `${randomUUID()}:`;
  private permitCount = 0;
  /** The limits each integration's settings come to, per settings object (a changed integration has a new one). */
  private readonly rateLimits = new WeakMap<object, { catalog: RateLimit; rateLimit: RateLimit }>();

  constructor(options: OutboundGuardOptions) {
    this.events = options.events;
    this.logger = options.logger;
    this.failureThreshold = options.circuit.failureThreshold;
    this.stored = options.shared !== undefined;
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
    // Inlined `finished`: most calls find nothing pending and go on without an await.
    const pending = this.finishing.get(integrationId);
    if (pending !== undefined && pending.size > 0) await Promise.all(pending);
    const permitId = this.nextPermitId();
    const pass = await this.guarded(this.limits.pass(integrationId, permitId));
    if (!pass.allowed) {
      throw new TokenkeeperError('circuit_open', `Calls to ${integration.provider.displayName} are paused after repeated failures.`, {
        retryAfterMs: pass.retryAfterMs,
      });
    }
    let taken = false;
    try {
      taken = await this.guarded(this.limits.take(integrationId, permitId, this.rateLimitOf(integration), maxWaitMs));
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
    return this.guarded(this.limits.circuitStatus(integrationId));
  }

  /** Resolves when every permit given back so far is recorded (before the database closes). */
  async settled(): Promise<void> {
    await Promise.all([...this.finishing.values()].flatMap((pending) => [...pending]));
  }

  /** Limits in memory cannot be unreachable: their answers need no translating (nor the extra promise). */
  private guarded<T>(work: Promise<T>): Promise<T> {
    return this.stored ? storageGuarded(work) : work;
  }

  private nextPermitId(): string {
    this.permitCount += 1;
    return this.permitIdPrefix + this.permitCount.toString(36);
  }

  /**
   * `effectiveRateLimit` of the integration, worked out once per settings object: the same
   * object back on every call lets the limits behind the guard see at a glance that nothing
   * changed (local-outbound-limits.ts).
   */
  private rateLimitOf(integration: GuardedIntegration): RateLimit {
    const { settings } = integration.record;
    const catalog = integration.provider.rateLimit;
    if (settings === null || typeof settings !== 'object') return effectiveRateLimit(catalog, settings);
    const kept = this.rateLimits.get(settings);
    if (kept !== undefined && kept.catalog === catalog) return kept.rateLimit;
    const rateLimit = effectiveRateLimit(catalog, settings);
    this.rateLimits.set(settings, { catalog, rateLimit });
    return rateLimit;
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
async function storageGuarded<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (isStorageUnavailable(error)) {
      throw new TokenkeeperError('storage_unavailable', 'The outbound rate limits could not be read; retry shortly.', { cause: error, retryAfterMs: 1_000 });
    }
    throw error;
  }
}
