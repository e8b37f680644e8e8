import type { Kysely } from 'kysely';

/**
 * Actions (issue 9). `integrations.actions_enabled`: the integration's kill switch for actions
 * (1 on, 0 off). `action_executions`: the outcome of an `execute` sent with an Idempotency-Key,
 * kept 24 h so that a retry with the same key answers the stored outcome instead of sending
 * again, on every instance. `id` is a digest of the connection, the action and the key (so a key
 * is scoped to one connection's action and never stored as given); `request_digest` a digest of
 * the input, to refuse the same key with another input. A row is first a claim (`state`
 * `running`, `claimed_until`), then the stored answer (`state` `done`, `answer_sealed`: the HTTP
 * status and body the caller got, sealed like tokens since a provider's result can be personal).
 * Times are epoch milliseconds.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('integrations').addColumn('actions_enabled', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.schema
    .createTable('action_executions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('request_digest', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('claim_token', 'text')
    .addColumn('claimed_until', 'bigint')
    .addColumn('outcome', 'text')
    .addColumn('answer_sealed', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('action_executions_expires_idx').on('action_executions').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('action_executions').ifExists().execute();
  await db.schema.alterTable('integrations').dropColumn('actions_enabled').execute();
}
