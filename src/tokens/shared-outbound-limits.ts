import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { RateLimit } from '../providers/index.ts';
import {
  createOutboundLimits,
  finishOutboundCall,
  readCircuit,
  reserveOutboundSlot,
  type CircuitEvidence,
  type Database,
  type OutboundBucketShape,
  type ReserveOutboundSlotResult,
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
 * How late after its reserved turn a caller may still go: half the bucket's burst. Later, the
 * calls reserved after it would go out closer together than the limit allows (by up to the
 * delay), so it reserves again instead.
 */
function lateToleranceMs(shape: OutboundBucketShape): number {
  return shape.capacity / shape.refillPerMs / 2;
}

/**
 * Outbound limits in PostgreSQL, shared by every instance on the database (the cluster shape,
 * invariant 8): four instances together stay under an integration's limit instead of each
 * allowing all of it. The state is one row per integration (store/outbound-limits-table.ts),
 * changed by single statements under its row lock; times are this instance's clock values. A call
 * costs two statements: one before it (`take`) and one after (`finish`).
 *
 * - Rate: a token bucket refilled by elapsed time (the same shape as in memory, `bucketShapeOf`)
 *   whose tokens may go below zero. A caller without a whole token reserves the next turn (the
 *   moment the bucket will have refilled it, one `1/rate` after the turn reserved before) and
 *   sleeps until then: calls are paced evenly at the limit, however many instances wait, and no
 *   waiter ever asks the database again for its token. A turn further out than the caller will
 *   wait is not reserved: the caller is refused at once instead of after waiting in vain.
 * - Concurrency: slots are entries in the row, each with an expiry (`slotTtlMs` past the
 *   caller's turn), so a slot held by a process that died frees itself. A release is not
 *   signalled across processes, so a caller waiting for a slot looks again after a short,
 *   growing, jittered pause.
 * - Circuit breaker: consecutive failures and "open until" in the row. It is checked by `take`,
 *   in the statement that takes the turn and the slot (`pass` lets everything through, to
 *   spare a round-trip): open, the call fails fast with `circuit_open`; when the open period has
 *   passed, the one caller whose statement finds the probe free claims it together with its turn
 *   and slot, and everyone else still fails fast.
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

  /** The breaker is checked by `take`, in the same statement as the rate limit and the slots. */
  async pass(): Promise<CircuitPass> {
    return { allowed: true };
  }

  /**
   * A turn at the rate limit and a slot, past the breaker: true once the turn has come (after
   * sleeping until it, when reserved ahead); false when no turn comes within `maxWaitMs`, or no
   * slot frees within it; throws `circuit_open` when the breaker refuses the call.
   */
  async take(integrationId: string, permitId: string, rateLimit: RateLimit, maxWaitMs: number): Promise<boolean> {
    const { clock } = this.options;
    const shape = bucketShapeOf(rateLimit);
    const deadline = clock.now() + maxWaitMs;
    let slotPollMs = SLOT_POLL_MS.first;
    for (;;) {
      const now = clock.now();
      const attempt = await this.reserve(integrationId, permitId, shape, now, Math.max(0, deadline - now));
      // Each answer says afresh whether this permit holds the probe (a refusal gave back what an
      // earlier turn of it held).
      this.probes.delete(permitId);
      if (attempt.taken) {
        if (attempt.probe) this.probes.add(permitId);
        const turn = now + attempt.waitMs;
        const answeredAt = clock.now();
        if (turn <= answeredAt) return true;
        await sleep(turn - answeredAt);
        // Woken well after its turn (this process stalled): going now would crowd the turns
        // reserved after it, so it takes a new turn (keeping its one slot).
        if (clock.now() - turn <= lateToleranceMs(shape)) return true;
        continue;
      }
      if (!attempt.circuitAllows) {
        const open = attempt.openUntil !== null && now < attempt.openUntil;
        // Open: until it half-opens. Half-open with another caller's probe out: its answer decides.
        throw new TokenkeeperError('circuit_open', undefined, { retryAfterMs: open ? attempt.openUntil! - now : 1_000 });
      }
      const remaining = deadline - clock.now();
      // No turn within the wait (reservations ahead of ours only grow), or no time left to poll.
      if (attempt.waitMs > Math.max(0, deadline - now) || remaining <= 0) return false;
      // Only the slots are full: look again after a short, growing, jittered pause.
      const pauseMs = slotPollMs / 2 + (this.random() * slotPollMs) / 2;
      slotPollMs = Math.min(SLOT_POLL_MS.max, slotPollMs * 2);
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
  private async reserve(integrationId: string, permitId: string, shape: OutboundBucketShape, now: number, maxWaitMs: number): Promise<ReserveOutboundSlotResult> {
    const { db, clock, slotTtlMs } = this.options;
    const input = { integrationId, permitId, now, maxWaitMs, slotTtlMs, shape };
    const first = await reserveOutboundSlot(db, input);
    if (first) return first;
    try {
      await createOutboundLimits(db, integrationId, clock.now(), shape.capacity);
    } catch (error) {
      // 23503: the integration was deleted meanwhile (the row references it).
      if ((error as { code?: unknown }).code === '23503') throw new TokenkeeperError('integration_not_found', undefined, { cause: error });
      throw error;
    }
    const second = await reserveOutboundSlot(db, input);
    if (!second) throw new TokenkeeperError('integration_not_found');
    return second;
  }
}
