import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { RateLimit } from '../providers/index.ts';
import {
  claimCircuitProbe,
  createOutboundLimits,
  finishOutboundCall,
  readCircuit,
  takeOutboundSlot,
  type CircuitEvidence,
  type Database,
  type OutboundBucketShape,
  type TakeOutboundSlotResult,
} from '../store/index.ts';
import { sleep } from './backoff.ts';
import type { CircuitBreakerOptions } from './circuit-breaker.ts';
import type { CallOutcome, CircuitPass, CircuitStatus, CircuitTransition, OutboundLimits } from './outbound-limits.ts';
import { bucketShapeOf } from './rate-limiter.ts';

export interface SharedOutboundLimitsOptions {
  db: Database;
  clock: Clock;
  circuit: CircuitBreakerOptions;
  /**
   * How long a concurrency slot, or a half-open probe claim, stays taken when its holder never
   * gives it back (the process died mid-call): a bit beyond the longest guarded call. Shorter
   * would let a slow live call's slot go to another; longer keeps a dead one's slot out of use.
   */
  slotTtlMs: number;
  random?: () => number;
}

const EVIDENCE: Record<CallOutcome, CircuitEvidence> = { success: 'success', failure: 'failure', neutral: 'neutral', not_sent: 'none' };

/** First and longest pause between looks for a free concurrency slot (slots are given back without a signal). */
const SLOT_POLL_MS = { first: 20, max: 500 };

/**
 * Outbound limits in PostgreSQL, shared by every instance on the database (the cluster shape,
 * invariant 8): four instances together stay under an integration's limit instead of each
 * allowing all of it. The state is one row per integration (store/outbound-limits-table.ts),
 * changed by single statements under its row lock; times are this instance's clock values.
 *
 * - Rate: a token bucket refilled by elapsed time (the same shape as in memory, `bucketShapeOf`).
 *   A caller without a token sleeps until the bucket should hold one again (or its wait bound),
 *   plus jitter so the waiters of several instances do not all ask in the same millisecond; it
 *   never spins on the database.
 * - Concurrency: slots are entries in the row, each with an expiry (`slotTtlMs`), so a slot held
 *   by a process that died frees itself. A release is not signalled across processes, so a caller
 *   waiting for a slot looks again after a short, growing, jittered pause.
 * - Circuit breaker: consecutive failures and "open until" in the row. When the open period has
 *   passed, one instance claims the probe by compare-and-set; everyone else still fails fast.
 */
export class SharedOutboundLimits implements OutboundLimits {
  private readonly options: SharedOutboundLimitsOptions;
  private readonly random: () => number;
  /** Permits of this instance that claimed a half-open probe (the only unsent ones to report back). */
  private readonly probes = new Set<string>();

  constructor(options: SharedOutboundLimitsOptions) {
    this.options = options;
    this.random = options.random ?? Math.random;
  }

  async pass(integrationId: string, permitId: string): Promise<CircuitPass> {
    const { db, clock, slotTtlMs } = this.options;
    const now = clock.now();
    const circuit = await readCircuit(db, integrationId);
    if (circuit === null || circuit.openUntil === null) return { allowed: true };
    if (now < circuit.openUntil) return { allowed: false, retryAfterMs: circuit.openUntil - now };
    if (await claimCircuitProbe(db, { integrationId, permitId, now, probeUntil: now + slotTtlMs })) {
      this.probes.add(permitId);
      return { allowed: true };
    }
    return { allowed: false, retryAfterMs: 1_000 };
  }

  async take(integrationId: string, permitId: string, rateLimit: RateLimit, maxWaitMs: number): Promise<boolean> {
    const { clock } = this.options;
    const shape = bucketShapeOf(rateLimit);
    const deadline = clock.now() + maxWaitMs;
    let slotPollMs = SLOT_POLL_MS.first;
    for (;;) {
      const attempt = await this.tryTake(integrationId, permitId, shape);
      if (attempt.taken) return true;
      const remaining = deadline - clock.now();
      if (remaining <= 0) return false;
      let pauseMs: number;
      if (attempt.tokens < 1) {
        // The next token cannot come sooner (another caller may still take it first).
        const refillMs = Math.ceil((1 - attempt.tokens) / shape.refillPerMs);
        pauseMs = refillMs + this.random() * Math.min(refillMs, 100);
      } else {
        pauseMs = slotPollMs / 2 + (this.random() * slotPollMs) / 2;
        slotPollMs = Math.min(SLOT_POLL_MS.max, slotPollMs * 2);
      }
      await sleep(Math.max(1, Math.min(remaining, Math.ceil(pauseMs))));
    }
  }

  async finish(integrationId: string, permitId: string, outcome: CallOutcome, holdsSlot: boolean): Promise<CircuitTransition> {
    const evidence = EVIDENCE[outcome];
    const probe = this.probes.delete(permitId);
    // Nothing held and nothing learnt (the limiter refused the permit): nothing to write.
    if (evidence === 'none' && !holdsSlot && !probe) return null;
    const { db, clock, circuit } = this.options;
    const change = await finishOutboundCall(db, {
      integrationId,
      permitId,
      now: clock.now(),
      evidence,
      holdsSlot,
      failureThreshold: circuit.failureThreshold,
      openMs: circuit.openMs,
    });
    if (change === null) return null;
    if (change.openUntilBefore === null && change.openUntilAfter !== null) return 'opened';
    if (change.openUntilBefore !== null && change.openUntilAfter === null) return 'closed';
    return null;
  }

  async circuitStatus(integrationId: string): Promise<CircuitStatus> {
    const circuit = await readCircuit(this.options.db, integrationId);
    if (circuit === null || circuit.openUntil === null) return 'closed';
    return this.options.clock.now() < circuit.openUntil ? 'open' : 'half_open';
  }

  /** One attempt; the integration's first ever call creates its row (with a full bucket). */
  private async tryTake(integrationId: string, permitId: string, shape: OutboundBucketShape): Promise<TakeOutboundSlotResult> {
    const { db, clock, slotTtlMs } = this.options;
    const input = () => {
      const now = clock.now();
      return { integrationId, permitId, now, slotUntil: now + slotTtlMs, shape };
    };
    const first = await takeOutboundSlot(db, input());
    if (first) return first;
    try {
      await createOutboundLimits(db, integrationId, clock.now(), shape.capacity);
    } catch (error) {
      // 23503: the integration was deleted meanwhile (the row references it).
      if ((error as { code?: unknown }).code === '23503') throw new TokenkeeperError('integration_not_found', undefined, { cause: error });
      throw error;
    }
    const second = await takeOutboundSlot(db, input());
    if (!second) throw new TokenkeeperError('integration_not_found');
    return second;
  }
}
