import type { Kysely } from 'kysely';

/**
 * Operator alerts as state (issue 8). `alerts`: one row per (type, key), upserted by every
 * instance that raises it (the unique constraint makes two raisers one alert). `alert_groups`:
 * the notification policy's aggregation groups — when the group is next flushed and what each
 * channel was last told (`notified`, JSON), claimed by compare-and-set on `version` so one
 * instance of a cluster flushes each group. `alert_notifications`: the outbox and delivery log,
 * one row per group notification per channel, written in the flush's transaction and delivered
 * (retried with backoff) afterwards. `silences`: matchers with a time window; expired ones stay
 * for history. Times are epoch milliseconds; JSON as text, as everywhere.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('summary', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('resolved_at', 'bigint')
    .addColumn('last_notified_at', 'bigint')
    .addColumn('notification_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('escalated', 'integer', (c) => c.notNull().defaultTo(0))
    .addUniqueConstraint('alerts_type_key_unique', ['type', 'key'])
    .execute();
  await db.schema.createIndex('alerts_state_idx').on('alerts').columns(['state', 'severity']).execute();
  await db.schema.createIndex('alerts_group_idx').on('alerts').columns(['group_key', 'state']).execute();

  await db.schema
    .createTable('alert_groups')
    .addColumn('group_key', 'text', (c) => c.primaryKey())
    .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('next_flush_at', 'bigint', (c) => c.notNull())
    .addColumn('last_flush_at', 'bigint')
    .addColumn('notified', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('alert_groups_due_idx').on('alert_groups').column('next_flush_at').execute();

  await db.schema
    .createTable('alert_notifications')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('notification_id', 'text', (c) => c.notNull())
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('alert_count', 'integer', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('claim_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('sent_at', 'bigint')
    .addColumn('fallback_at', 'bigint')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('alert_notifications_due_idx').on('alert_notifications').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('alert_notifications_group_idx').on('alert_notifications').columns(['group_key', 'created_at']).execute();

  await db.schema
    .createTable('silences')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('matchers', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('starts_at', 'bigint', (c) => c.notNull())
    .addColumn('ends_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expired_at', 'bigint')
    .execute();
  await db.schema.createIndex('silences_window_idx').on('silences').columns(['ends_at', 'starts_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['silences', 'alert_notifications', 'alert_groups', 'alerts']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
