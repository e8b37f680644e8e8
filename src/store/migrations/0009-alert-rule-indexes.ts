import type { Kysely } from 'kysely';

/**
 * What the built-in alert rules (src/alerts/rules/) read every half minute, indexed so that the
 * check stays cheap with 100k connections and a years-long event log: the refresh outcomes of the
 * last minutes per integration (the error rate; the index covers the query, so the log's size
 * does not matter), and the connections whose refreshes have been failing since before a time.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('events_type_created_idx').on('events').columns(['type', 'created_at', 'integration_key']).execute();
  await db.schema.createIndex('connections_failing_since_idx').on('connections').column('failing_since').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('connections_failing_since_idx').ifExists().execute();
  await db.schema.dropIndex('events_type_created_idx').ifExists().execute();
}
