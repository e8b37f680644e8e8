import { sql } from 'kysely';
import type { Database } from './database.ts';

/**
 * An integration's outbound limits shared by every instance on one PostgreSQL database: the token
 * bucket, the concurrency slots and the circuit breaker of migration 0004, one row per
 * integration. PostgreSQL only (the embedded SQLite shape keeps them in memory, tokens/).
 *
 * Every change is one statement on the integration's row. The statements that compute new values
 * from old ones read the row through `(select … for update) as old`: the row lock makes a second
 * instance's statement wait and then see the first one's result, so two instances can never take
 * the same last token or the last slot, and the statement's `RETURNING old.…` tells this instance
 * whether *it* made a circuit transition (so exactly one instance announces it).
 */

/** How one integration's bucket and slots are shaped (from its rate limit, tokens/rate-limiter.ts). */
export interface OutboundBucketShape {
  /** Most tokens the bucket holds: the largest burst. */
  capacity: number;
  /** Tokens added per millisecond. */
  refillPerMs: number;
  /** Concurrency slots: calls in flight at once, cluster-wide. */
  concurrency: number;
}

export interface TakeOutboundSlotInput {
  integrationId: string;
  /** The permit asking; the slot is kept under this id until given back or lapsed. */
  permitId: string;
  now: number;
  /** When the slot lapses if never given back (its holder died): a bit beyond the longest call. */
  slotUntil: number;
  shape: OutboundBucketShape;
}

export interface TakeOutboundSlotResult {
  /** A token and a slot were taken together (never one without the other). */
  taken: boolean;
  /** Tokens left in the bucket now (below 1: what to wait for). */
  tokens: number;
  /** Slots in use now, this permit's included when taken. */
  slotsInUse: number;
}

/**
 * Refills the bucket by the time elapsed since it was last touched, prunes lapsed slots, and takes
 * one token plus one slot if both are there. Returns null when the integration has no row yet
 * (see `createOutboundLimits`). A refused attempt still stores the refill, which changes nothing
 * another instance would compute. A clock behind the stored `refilled_at` (another instance's
 * clock runs ahead) refills nothing rather than a negative amount.
 */
export async function takeOutboundSlot(db: Database, input: TakeOutboundSlotInput): Promise<TakeOutboundSlotResult | null> {
  const { capacity, refillPerMs, concurrency } = input.shape;
  const now = sql`${input.now}::bigint`;
  const refilled = sql`least(${capacity}::float8, old.tokens + greatest(0, ${now} - old.refilled_at) * ${refillPerMs}::float8)`;
  const live = sql`(select coalesce(jsonb_object_agg(slot.key, slot.value), '{}'::jsonb) from jsonb_each(old.slots::jsonb) as slot where slot.value::bigint > ${now})`;
  const liveCount = sql`(select count(*) from jsonb_each(old.slots::jsonb) as slot where slot.value::bigint > ${now})`;
  const canTake = sql`(${refilled} >= 1 and ${liveCount} < ${concurrency}::int)`;
  const result = await sql<{ taken: boolean; tokens: number; slots: string }>`
    update outbound_limits as l set
      tokens = ${refilled} - (case when ${canTake} then 1 else 0 end),
      refilled_at = greatest(old.refilled_at, ${now}),
      slots = (case when ${canTake} then ${live} || jsonb_build_object(${input.permitId}::text, ${input.slotUntil}::bigint) else ${live} end)::text
    from (select * from outbound_limits where integration_id = ${input.integrationId} for update) as old
    where l.integration_id = old.integration_id
    returning ${canTake} as taken, l.tokens, l.slots`.execute(db);
  const row = result.rows[0];
  if (!row) return null;
  return { taken: row.taken, tokens: Number(row.tokens), slotsInUse: Object.keys(JSON.parse(row.slots) as object).length };
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

/**
 * Claims the half-open probe: the one call, cluster-wide, that may test a provider whose circuit's
 * open period has ended. A compare-and-set: of instances racing, one gets the row back. A claim
 * whose holder died lapses at `probeUntil`, so a half-open circuit cannot stay stuck.
 */
export async function claimCircuitProbe(db: Database, input: { integrationId: string; permitId: string; now: number; probeUntil: number }): Promise<boolean> {
  const result = await db
    .updateTable('outbound_limits')
    .set({ circuit_probe: input.permitId, circuit_probe_until: input.probeUntil })
    .where('integration_id', '=', input.integrationId)
    .where('circuit_open_until', 'is not', null)
    .where('circuit_open_until', '<=', input.now)
    .where((eb) => eb.or([eb('circuit_probe', 'is', null), eb('circuit_probe_until', '<=', input.now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

function timeOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}
