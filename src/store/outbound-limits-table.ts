import { sql } from 'kysely';
import type { Database } from './database.ts';

/**
 * An integration's outbound limits shared by every instance on one PostgreSQL database: the token
 * bucket, the concurrency slots and the circuit breaker of migration 0004, one row per
 * integration. PostgreSQL only (the embedded SQLite shape keeps them in memory, tokens/).
 *
 * Every change is one statement on the integration's row. The statements that compute new values
 * from old ones read the row through a `select … for update` subquery: the row lock makes a second
 * instance's statement wait and then see the first one's result, so two instances can never take
 * the same last token or the last slot, and the statement's `RETURNING old.…` tells this instance
 * whether *it* made a circuit transition (so exactly one instance announces it).
 */

/**
 * For a statement of its own transaction: its commit does not wait for the write-ahead log to
 * reach the disk. The row lock every instance queues on is held until the commit, so with the
 * flush every take and every release held it for a disk write as well, and the row let through
 * only a few hundred calls a second. What a database crash could lose is the last fraction of a
 * second of bucket, slot and breaker updates (`wal_writer_delay`, 200 ms by default, times three
 * at most): a few calls admitted again, slots freed early, a failure not counted. Never a token:
 * the token writes are other statements, committed as before.
 */
const ASYNC_COMMIT = sql`(select set_config('synchronous_commit', 'off', true))`;

/** How one integration's bucket and slots are shaped (from its rate limit, tokens/rate-limiter.ts). */
export interface OutboundBucketShape {
  /** Most tokens the bucket holds: the largest burst. */
  capacity: number;
  /** Tokens added per millisecond. */
  refillPerMs: number;
  /** Concurrency slots: calls in flight at once, cluster-wide. */
  concurrency: number;
}

export interface ReserveOutboundSlotInput {
  integrationId: string;
  /**
   * The permit asking; the slot (and a half-open probe) is kept under this id until given back or
   * lapsed. A permit that already holds them (it asks again for a later turn) keeps one slot, and
   * gives both back if refused.
   */
  permitId: string;
  now: number;
  /** The longest the caller will wait for its turn at the rate limit: no reservation further out. */
  maxWaitMs: number;
  /**
   * How long the slot (and a probe claim) lasts past the caller's turn if never given back (its
   * holder died): a bit beyond the longest call.
   */
  slotTtlMs: number;
  shape: OutboundBucketShape;
}

export interface ReserveOutboundSlotResult {
  /**
   * A rate-limit turn and a slot were taken together (never one without the other), and the
   * half-open probe with them when the circuit is half-open.
   */
  taken: boolean;
  /** Milliseconds from `now` to the caller's turn (0: now). When not taken: what the turn would have needed. */
  waitMs: number;
  /** Slots in use now, this permit's included when taken. */
  slotsInUse: number;
  /** Whether the breaker let the call through (closed, or half-open with the probe free). */
  circuitAllows: boolean;
  /** The breaker's `open_until` as read: null closed, in the future open, in the past half-open. */
  openUntil: number | null;
  /** This permit claimed the half-open probe. */
  probe: boolean;
}

/**
 * One statement per outbound call, under the row lock: checks the circuit breaker, refills the
 * bucket by the time elapsed, prunes lapsed slots, and — when the breaker allows the call, a slot
 * is free and the caller's turn at the rate limit comes within `maxWaitMs` — takes a slot and a
 * turn (and, half-open, the probe). Returns null when the integration has no row yet (see
 * `createOutboundLimits`).
 *
 * The rate limit is a token bucket whose tokens may go below zero: a caller that finds no whole
 * token still takes one, and is told to wait until the bucket would have refilled it (GCRA: the
 * debt is the queue of reserved turns). Every caller thus gets its own moment, one `1/rate` after
 * the previous reservation, and sleeps until then: calls go out evenly paced, and waiters never
 * retry against each other. A turn beyond `maxWaitMs` is not reserved, so the debt stays bounded.
 * A refused attempt still stores the refill, which changes nothing another instance would
 * compute. A clock behind the stored `refilled_at` (another instance's clock runs ahead) refills
 * nothing rather than a negative amount.
 */
export async function reserveOutboundSlot(db: Database, input: ReserveOutboundSlotInput): Promise<ReserveOutboundSlotResult | null> {
  const { capacity, refillPerMs, concurrency } = input.shape;
  const now = sql`${input.now}::bigint`;
  const result = await sql<{ taken: boolean; wait_ms: number | string; slots_in_use: number | string; circuit_allows: boolean; open_until: number | string | null; probe: boolean }>`
    update outbound_limits as l set
      tokens = d.refilled - (case when d.taken then 1 else 0 end),
      refilled_at = greatest(d.refilled_at, ${now}),
      slots = (case when d.taken then d.live || jsonb_build_object(${input.permitId}::text, ${now} + d.wait_ms + ${input.slotTtlMs}::bigint) else d.live - ${input.permitId}::text end)::text,
      circuit_probe = (case when d.taken and d.half_open then ${input.permitId}::text when d.circuit_probe = ${input.permitId}::text then null else d.circuit_probe end),
      circuit_probe_until = (case when d.taken and d.half_open then ${now} + d.wait_ms + ${input.slotTtlMs}::bigint when d.circuit_probe = ${input.permitId}::text then null else d.circuit_probe_until end)
    from (
      select c.*, (c.circuit_allows and c.live_count < ${concurrency}::int and c.wait_ms <= ${Math.max(0, Math.floor(input.maxWaitMs))}::bigint) as taken
      from (
        select r.*,
          greatest(0, ceil((1 - r.refilled) / ${refillPerMs}::float8))::bigint as wait_ms,
          (r.circuit_open_until is not null and r.circuit_open_until <= ${now}) as half_open,
          (r.circuit_open_until is null or (r.circuit_open_until <= ${now} and (r.circuit_probe is null or r.circuit_probe = ${input.permitId}::text or r.circuit_probe_until <= ${now}))) as circuit_allows
        from (
          select o.*,
            least(${capacity}::float8, o.tokens + greatest(0, ${now} - o.refilled_at) * ${refillPerMs}::float8) as refilled,
            (select coalesce(jsonb_object_agg(slot.key, slot.value), '{}'::jsonb) from jsonb_each(o.slots::jsonb) as slot where slot.value::bigint > ${now}) as live,
            (select count(*) from jsonb_each(o.slots::jsonb) as slot where slot.value::bigint > ${now} and slot.key <> ${input.permitId}::text) as live_count
          from outbound_limits as o
          where o.integration_id = ${input.integrationId}
          for update
        ) as r
      ) as c
    ) as d
    cross join ${ASYNC_COMMIT} as async_commit
    where l.integration_id = d.integration_id
    returning d.taken, d.wait_ms, d.live_count + (case when d.taken then 1 else 0 end) as slots_in_use, d.circuit_allows, d.circuit_open_until as open_until, d.taken and d.half_open as probe`.execute(db);
  const row = result.rows[0];
  if (!row) return null;
  return {
    taken: row.taken,
    waitMs: Number(row.wait_ms),
    slotsInUse: Number(row.slots_in_use),
    circuitAllows: row.circuit_allows,
    openUntil: timeOrNull(row.open_until),
    probe: row.probe,
  };
}

/** The integration's row with a full bucket; a row another instance created first is kept. */
export async function createOutboundLimits(db: Database, integrationId: string, now: number, capacity: number): Promise<void> {
  await db
    .insertInto('outbound_limits')
    .values({ integration_id: integrationId, tokens: capacity, refilled_at: now, slots: '{}', circuit_failures: 0, circuit_open_until: null, circuit_probe: null, circuit_probe_until: null })
    .onConflict((oc) => oc.column('integration_id').doNothing())
    .execute();
}

/**
 * What an ended call says about the provider (tokens/outbound-limits.ts maps a call's outcome
 * to this): `success` closes the circuit; `failure` counts towards opening it (or reopens a
 * half-open one); `neutral` (the provider answered, with an error about the request) resets the
 * count and closes a half-open circuit; `none` (no call went out) changes nothing.
 */
export type CircuitEvidence = 'success' | 'failure' | 'neutral' | 'none';

export interface FinishOutboundCallInput {
  integrationId: string;
  permitId: string;
  now: number;
  evidence: CircuitEvidence;
  /** Whether the permit holds a slot to give back. */
  holdsSlot: boolean;
  failureThreshold: number;
  openMs: number;
}

/** The circuit before and after: a change between null and a time is a transition. */
export interface CircuitChange {
  openUntilBefore: number | null;
  openUntilAfter: number | null;
}

/**
 * Gives the permit's slot back and records the call's evidence on the breaker, in one statement.
 * The states: `circuit_open_until` null is closed; in the future, open; in the past, half-open.
 * A failure while closed that reaches the threshold opens the circuit; a failure while half-open
 * opens it again; while open nothing counts (calls that started before it opened). A probe claim
 * held by this permit ends with its call. Null when the row is gone (integration deleted).
 */
export async function finishOutboundCall(db: Database, input: FinishOutboundCallInput): Promise<CircuitChange | null> {
  const now = sql`${input.now}::bigint`;
  const openAgain = sql`${input.now + input.openMs}::bigint`;
  const closed = sql`(old.circuit_open_until is null)`;
  const halfOpen = sql`(old.circuit_open_until <= ${now})`;
  const ownProbe = sql`(old.circuit_probe is not distinct from ${input.permitId}::text)`;
  let failures = sql`old.circuit_failures`;
  let openUntil = sql`old.circuit_open_until`;
  let endsProbe = ownProbe;
  if (input.evidence === 'success') {
    failures = sql`0`;
    openUntil = sql`null::bigint`;
    endsProbe = sql`true`;
  } else if (input.evidence === 'neutral') {
    failures = sql`(case when ${closed} or ${halfOpen} then 0 else old.circuit_failures end)`;
    openUntil = sql`(case when ${halfOpen} then null else old.circuit_open_until end)`;
    endsProbe = sql`(${ownProbe} or ${halfOpen})`;
  } else if (input.evidence === 'failure') {
    failures = sql`(case when ${closed} then old.circuit_failures + 1 else old.circuit_failures end)`;
    openUntil = sql`(case
      when ${closed} and old.circuit_failures + 1 >= ${input.failureThreshold}::int then ${openAgain}
      when ${halfOpen} then ${openAgain}
      else old.circuit_open_until end)`;
    endsProbe = sql`(${ownProbe} or ${halfOpen})`;
  }
  const slots = input.holdsSlot ? sql`(old.slots::jsonb - ${input.permitId}::text)::text` : sql`old.slots`;
  const result = await sql<{ open_until_before: number | null; open_until_after: number | null }>`
    update outbound_limits as l set
      slots = ${slots},
      circuit_failures = ${failures},
      circuit_open_until = ${openUntil},
      circuit_probe = (case when ${endsProbe} then null else old.circuit_probe end),
      circuit_probe_until = (case when ${endsProbe} then null else old.circuit_probe_until end)
    from (select * from outbound_limits where integration_id = ${input.integrationId} for update) as old
    cross join ${ASYNC_COMMIT} as async_commit
    where l.integration_id = old.integration_id
    returning old.circuit_open_until as open_until_before, l.circuit_open_until as open_until_after`.execute(db);
  const row = result.rows[0];
  if (!row) return null;
  return { openUntilBefore: timeOrNull(row.open_until_before), openUntilAfter: timeOrNull(row.open_until_after) };
}

export interface CircuitRow {
  openUntil: number | null;
  probe: string | null;
  probeUntil: number | null;
}

/** The breaker's state; null when the integration has no row yet (closed: nothing failed). */
export async function readCircuit(db: Database, integrationId: string): Promise<CircuitRow | null> {
  const row = await db
    .selectFrom('outbound_limits')
    .select(['circuit_open_until', 'circuit_probe', 'circuit_probe_until'])
    .where('integration_id', '=', integrationId)
    .executeTakeFirst();
  if (!row) return null;
  return { openUntil: timeOrNull(row.circuit_open_until), probe: row.circuit_probe, probeUntil: timeOrNull(row.circuit_probe_until) };
}

function timeOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}
