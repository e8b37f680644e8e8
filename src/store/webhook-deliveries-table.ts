import { sql } from 'kysely';
import type { Database } from './database.ts';
import type { WebhookDeliveriesTable } from './schema.ts';

/** One event for one endpoint: where its delivery stands. */
export interface WebhookDeliveryRecord {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: WebhookDeliveriesTable['status'];
  attempts: number;
  nextAttemptAt: number | null;
  retryUntil: number;
  claimedUntil: number | null;
  lastAttemptAt: number | null;
  responseStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
  createdAt: number;
}

const nullableNumber = (value: number | null): number | null => (value === null ? null : Number(value));

function recordOf(row: WebhookDeliveriesTable): WebhookDeliveryRecord {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: nullableNumber(row.next_attempt_at),
    retryUntil: Number(row.retry_until),
    claimedUntil: nullableNumber(row.claimed_until),
    lastAttemptAt: nullableNumber(row.last_attempt_at),
    responseStatus: nullableNumber(row.response_status),
    lastError: row.last_error,
    deliveredAt: nullableNumber(row.delivered_at),
    createdAt: Number(row.created_at),
  };
}

export type NewWebhookDelivery = Pick<WebhookDeliveryRecord, 'id' | 'webhookId' | 'eventId' | 'eventType' | 'retryUntil' | 'createdAt'>;

/**
 * Writes deliveries, due now. One per (endpoint, event) by a unique constraint: a second
 * dispatcher fanning out the same event (two instances, or a retry after a crash) writes nothing.
 */
export async function insertWebhookDeliveries(db: Database, rows: readonly NewWebhookDelivery[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('webhook_deliveries')
    .values(
      rows.map((row) => ({
        id: row.id,
        webhook_id: row.webhookId,
        event_id: row.eventId,
        event_type: row.eventType,
        status: 'pending' as const,
        attempts: 0,
        next_attempt_at: row.createdAt,
        retry_until: row.retryUntil,
        claimed_until: null,
        claim_token: null,
        last_attempt_at: null,
        response_status: null,
        last_error: null,
        delivered_at: null,
        created_at: row.createdAt,
      })),
    )
    .onConflict((oc) => oc.columns(['webhook_id', 'event_id']).doNothing())
    .execute();
}

/** A due delivery with what sending it takes: the endpoint's URL and sealed secret, the event. */
export interface DueWebhookDelivery {
  delivery: WebhookDeliveryRecord;
  url: string;
  secretSealed: string;
  event: { id: string; type: string; data: string; createdAt: number };
}

/**
 * One endpoint's pending deliveries whose attempt is due and that nobody holds (or whose holder's
 * claim lapsed), in the order their events were written.
 */
export async function dueWebhookDeliveries(db: Database, webhookId: string, now: number, limit: number): Promise<DueWebhookDelivery[]> {
  const rows = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('app_webhooks as w', 'w.id', 'd.webhook_id')
    .innerJoin('app_events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select(['w.url as endpoint_url', 'w.secret_sealed as endpoint_secret_sealed', 'e.data as event_data', 'e.created_at as event_created_at'])
    .where('d.webhook_id', '=', webhookId)
    .where('d.status', '=', 'pending')
    .where('d.next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<=', now)]))
    .orderBy('e.seq')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    delivery: recordOf(row),
    url: row.endpoint_url,
    secretSealed: row.endpoint_secret_sealed,
    event: { id: row.event_id, type: row.event_type, data: row.event_data, createdAt: Number(row.event_created_at) },
  }));
}

/**
 * Claims one attempt with a conditional write (pg-boss style): the row must still be pending, due
 * and unheld, so of two instances that both saw it due exactly one sends it. The claim lapses at
 * `claimUntil` (a sender that died mid-request), after which another instance may send it again:
 * at least once, never twice at the same time. `token` fences the outcome write.
 */
export async function claimWebhookDelivery(db: Database, id: string, now: number, claimUntil: number, token: string): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ claimed_until: claimUntil, claim_token: token })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** The outcome of one attempt. `retryAt` null after a failure: no more retries (`failed`). */
export interface WebhookAttemptOutcome {
  at: number;
  delivered: boolean;
  responseStatus: number | null;
  error: string | null;
  retryAt: number | null;
}

/**
 * Records an attempt and ends the claim, only if the claim is still this sender's: one that
 * outlived its claim (another instance has taken the row over, or an operator asked for a
 * redelivery) leaves the row to its new holder.
 */
export async function recordWebhookAttempt(db: Database, id: string, token: string, outcome: WebhookAttemptOutcome): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({
      status: outcome.delivered ? 'delivered' : outcome.retryAt === null ? 'failed' : 'pending',
      attempts: sql<number>`attempts + 1`,
      last_attempt_at: outcome.at,
      response_status: outcome.responseStatus,
      last_error: outcome.error === null ? null : outcome.error.slice(0, 1000),
      next_attempt_at: outcome.delivered ? null : outcome.retryAt,
      // A failed redelivery of a delivered event keeps when it was first delivered.
      ...(outcome.delivered ? { delivered_at: outcome.at } : {}),
      claimed_until: null,
      claim_token: null,
    })
    .where('id', '=', id)
    .where('claim_token', '=', token)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Gives a claim back unused (the sender is shutting down): the row is due again at once. */
export async function releaseWebhookDelivery(db: Database, id: string, token: string): Promise<void> {
  await db.updateTable('webhook_deliveries').set({ claimed_until: null, claim_token: null }).where('id', '=', id).where('claim_token', '=', token).execute();
}

export async function findWebhookDelivery(db: Database, id: string): Promise<WebhookDeliveryRecord | null> {
  const row = await db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? recordOf(row) : null;
}

/** An endpoint's delivery log, newest first. */
export async function listWebhookDeliveries(
  db: Database,
  webhookId: string,
  query: { status?: WebhookDeliveriesTable['status']; eventType?: string; limit: number },
): Promise<WebhookDeliveryRecord[]> {
  let select = db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
  if (query.status) select = select.where('status', '=', query.status);
  if (query.eventType) select = select.where('event_type', '=', query.eventType);
  const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
  return rows.map(recordOf);
}

/**
 * A manual redelivery: due now, retried again until `retryUntil`, whatever its status. A claim
 * in flight is dropped, so its outcome is not recorded and the row is sent afresh.
 */
export async function requeueWebhookDelivery(db: Database, id: string, now: number, retryUntil: number): Promise<WebhookDeliveryRecord | null> {
  const row = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: now, retry_until: retryUntil, claimed_until: null, claim_token: null })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row ? recordOf(row) : null;
}

/** Retention: delivered rows older than `deliveredBefore`, failed ones older than `failedBefore`. */
export async function deleteOldWebhookDeliveries(db: Database, before: { delivered: number; failed: number }): Promise<number> {
  const result = await db
    .deleteFrom('webhook_deliveries')
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'delivered'), eb('created_at', '<', before.delivered)]),
        eb.and([eb('status', '=', 'failed'), eb('created_at', '<', before.failed)]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deliveries by status, for `/metrics` (every instance reads the same shared table). */
export async function countWebhookDeliveries(db: Database): Promise<{ status: WebhookDeliveriesTable['status']; count: number }[]> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select(['status', (eb) => eb.fn.countAll<number | string>().as('count')])
    .groupBy('status')
    .execute();
  return rows.map((row) => ({ status: row.status, count: Number(row.count) }));
}
