import type { Kysely } from 'kysely';
import { isPostgres } from '../database.ts';

/**
 * Webhooks to the application (issue 8, item 5; invariant 11). `app_events`: the outbox, one row
 * per event, inserted in the transaction of the change that causes it, so a crash loses no
 * event; `seq` orders them (deliveries to one endpoint go out in that order), `dispatched_at` is
 * set once its deliveries are written. `app_webhooks`: the receiving
 * endpoints with their event filter and sealed signing secret. `webhook_deliveries`: one row per
 * event and endpoint (unique, so fanning out twice writes nothing twice), holding the retry
 * state, the claim of the instance sending it (`claimed_until`, `claim_token`) and the last
 * outcome for the delivery log. Times are epoch milliseconds; JSON as text, as everywhere.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('app_events')
    // SQLite: INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL: an identity column (as `events`).
    .addColumn('seq', isPostgres(db) ? 'bigint' : 'integer', (c) => (isPostgres(db) ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('dispatched_at', 'bigint')
    .execute();
  await db.schema.createIndex('app_events_dispatch_idx').on('app_events').columns(['dispatched_at', 'seq']).execute();

  await db.schema
    .createTable('app_webhooks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('events', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('api'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('webhook_id', 'text', (c) => c.notNull().references('app_webhooks.id').onDelete('cascade'))
    .addColumn('event_id', 'text', (c) => c.notNull().references('app_events.id').onDelete('cascade'))
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint')
    .addColumn('retry_until', 'bigint', (c) => c.notNull())
    .addColumn('claimed_until', 'bigint')
    .addColumn('claim_token', 'text')
    .addColumn('last_attempt_at', 'bigint')
    .addColumn('response_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('delivered_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('webhook_deliveries_event_unique', ['webhook_id', 'event_id'])
    .execute();
  await db.schema.createIndex('webhook_deliveries_due_idx').on('webhook_deliveries').columns(['webhook_id', 'status', 'next_attempt_at']).execute();
  await db.schema.createIndex('webhook_deliveries_log_idx').on('webhook_deliveries').columns(['webhook_id', 'created_at']).execute();
  await db.schema.createIndex('webhook_deliveries_event_idx').on('webhook_deliveries').column('event_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['webhook_deliveries', 'app_webhooks', 'app_events']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
