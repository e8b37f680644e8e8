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

export async function appendEvent(db: Database, event: Omit<EventRecord, 'id'>): Promise<void> {
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
