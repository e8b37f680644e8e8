import { sql, type Kysely } from 'kysely';

/**
 * When each connection entered its current status, and since when its refreshes have been
 * failing: what alert rules ("failing transiently for over 15 minutes") and stuck-connection
 * detection ("needs_reauth for over a day") measure. Both are kept by the store's writes
 * (connections-table.ts), so no caller has to remember them. Existing rows start from their last
 * update, the best the table knows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('connections').addColumn('status_changed_at', 'bigint').execute();
  await db.schema.alterTable('connections').addColumn('failing_since', 'bigint').execute();
  await sql`update connections set status_changed_at = updated_at`.execute(db);
  await sql`update connections set failing_since = updated_at where failure_count > 0`.execute(db);
  await db.schema.createIndex('connections_status_changed_idx').on('connections').columns(['status', 'status_changed_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('connections_status_changed_idx').ifExists().execute();
  await db.schema.alterTable('connections').dropColumn('failing_since').execute();
  await db.schema.alterTable('connections').dropColumn('status_changed_at').execute();
}
