import { sql, type RawBuilder, type Selectable } from 'kysely';
import type { Database } from './database.ts';
import { parseJsonObject } from './json.ts';
import type { AppEventsTable } from './schema.ts';

/** One event of the application's webhook outbox. */
export interface AppEventRecord {
  /** `evt_…`, the `webhook-id` of every delivery of it. */
  id: string;
  type: string;
  /** In the API's shape; never a token or secret. */
  data: Record<string, unknown>;
  createdAt: number;
  dispatchedAt: number | null;
}

/** An event as its producer writes it (delivery/app-event.ts builds these). */
export type NewAppEvent = Omit<AppEventRecord, 'dispatchedAt'>;

function recordOf(row: Selectable<AppEventsTable>): AppEventRecord {
  return {
    id: row.id,
    type: row.type,
    data: parseJsonObject(row.data),
    createdAt: Number(row.created_at),
    dispatchedAt: row.dispatched_at === null ? null : Number(row.dispatched_at),
  };
}

/**
 * Writes events to the outbox; called inside the transaction of the change that causes them
 * (change-feed.ts), so the event commits with the change or not at all. Only events that some
 * endpoint subscribes to are written, read in that same transaction: a deployment without
 * webhooks (or without an endpoint asking for `connection.refreshed`) does not grow the table by
 * a row per refresh. An endpoint created while the change commits may miss it, as if it had been
 * created a moment later. Returns how many were written.
 */
export async function insertAppEvents(db: Database, events: readonly NewAppEvent[]): Promise<number> {
  let written = 0;
  // One statement per event, the subscription check inside it: a write pays one round trip for
  // its outbox, not a read and a write (a refresh's commit on PostgreSQL pays none: its outbox
  // goes inside its own statement, `insertAppEventsWhen`). `events` is a JSON array of names, so
  // the quoted name matches only itself (`_` in a name is a LIKE wildcard, harmless: no two
  // event names differ by one character there).
  for (const event of events) {
    const result = await sql`
      insert into app_events (id, type, data, created_at, dispatched_at)
      select ${event.id}, ${event.type}, ${JSON.stringify(event.data)}, ${event.createdAt}, null
      where exists (select 1 from app_webhooks where events like ${`%"${event.type}"%`})`.execute(db);
    written += Number(result.numAffectedRows ?? 0n);
  }
  return written;
}

/**
 * `insertAppEvents` as one PostgreSQL statement, writing only when `when` holds: to send inside
 * the statement of the change that causes the events (a data-modifying `WITH`; `when` says the
 * change landed), so they commit with it in the same round trip (change-feed.ts
 * `writeRowAndNotify`). The same subscription check, per event.
 */
export function insertAppEventsWhen(events: readonly NewAppEvent[], when: RawBuilder<unknown>): RawBuilder<unknown> {
  const rows = events.map((event) => sql`(${event.id}, ${event.type}, ${JSON.stringify(event.data)}, cast(${event.createdAt} as bigint), ${`%"${event.type}"%`})`);
  return sql`insert into app_events (id, type, data, created_at, dispatched_at)
    select e.id, e.type, e.data, e.created_at, null
    from (values ${sql.join(rows)}) as e (id, type, data, created_at, subscription)
    where ${when} and exists (select 1 from app_webhooks where events like e.subscription)`;
}

/** Events whose deliveries are not written yet, in the order they were written (a crash may have left some). */
export async function undispatchedAppEvents(db: Database, limit: number): Promise<AppEventRecord[]> {
  const rows = await db.selectFrom('app_events').selectAll().where('dispatched_at', 'is', null).orderBy('seq').limit(limit).execute();
  return rows.map(recordOf);
}

/** Marks events fanned out; only those still undispatched (a second dispatcher changes nothing). */
export async function markAppEventsDispatched(db: Database, ids: readonly string[], now: number): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db.updateTable('app_events').set({ dispatched_at: now }).where('id', 'in', [...ids]).where('dispatched_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function findAppEvent(db: Database, id: string): Promise<AppEventRecord | null> {
  const row = await db.selectFrom('app_events').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? recordOf(row) : null;
}

/** Retention: dispatched events older than `before` whose deliveries are all gone. */
export async function deleteOldAppEvents(db: Database, before: number): Promise<number> {
  const result = await db
    .deleteFrom('app_events')
    .where('dispatched_at', 'is not', null)
    .where('created_at', '<', before)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('webhook_deliveries').select('webhook_deliveries.id').whereRef('webhook_deliveries.event_id', '=', 'app_events.id'))))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
