import { sql, type RawBuilder } from 'kysely';
import type { Database } from './database.ts';
import { parseJsonObject } from './json.ts';

export interface EventRecord {
  id: number;
  type: string;
  connectionId: string | null;
  integrationKey: string | null;
  data: Record<string, unknown>;
  createdAt: number;
}

/** An event-log row as its producer writes it (the log numbers it). */
export type NewEvent = Omit<EventRecord, 'id'>;

export async function appendEvent(db: Database, event: NewEvent): Promise<void> {
  await db
    .insertInto('events')
    .values({
      type: event.type,
      connection_id: event.connectionId,
      integration_key: event.integrationKey,
      data: JSON.stringify(event.data),
      created_at: event.createdAt,
    })
    .execute();
}

export async function listEventsOfConnection(
  db: Database,
  connectionId: string,
  options: { limit?: number; beforeId?: number } = {},
): Promise<EventRecord[]> {
  let query = db.selectFrom('events').selectAll().where('connection_id', '=', connectionId);
  if (options.beforeId !== undefined) query = query.where('id', '<', options.beforeId);
  const rows = await query.orderBy('id', 'desc').limit(options.limit ?? 100).execute();
  return rows.map((row) => ({
    id: Number(row.id),
    type: row.type,
    connectionId: row.connection_id,
    integrationKey: row.integration_key,
    data: parseJsonObject(row.data),
    createdAt: Number(row.created_at),
  }));
}

/**
 * Appends `events` when `when` holds, as one PostgreSQL statement to send inside the statement of
 * the change they record (a data-modifying `WITH`; `when` says the change landed): change-feed.ts
 * `writeRowAndNotify`. Rows are numbered in the order given.
 */
export function appendEventsWhen(events: readonly NewEvent[], when: RawBuilder<unknown>): RawBuilder<unknown> {
  const rows = events.map(
    (event) => sql`(${event.type}, ${event.connectionId}, ${event.integrationKey}, ${JSON.stringify(event.data)}, cast(${event.createdAt} as bigint))`,
  );
  return sql`insert into events (type, connection_id, integration_key, data, created_at)
    select e.type, e.connection_id, e.integration_key, e.data, e.created_at
    from (values ${sql.join(rows)}) as e (type, connection_id, integration_key, data, created_at)
    where ${when}`;
}
