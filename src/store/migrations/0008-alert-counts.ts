import type { Kysely } from 'kysely';

/**
 * Counts of things the alert tables do not keep a row for, per minute, so that
 * `GET /v1/alerts/stats?hours=N` can say how many happened in a window. The one counter so far:
 * `deduplicated`, a raise of an alert that was already firing (PagerDuty's de-duplication by
 * `dedup_key`): merged into it, no new alert and no notification of its own. Per alert type;
 * `bucket` is the start of the minute (epoch ms). Increments are upserts, so instances counting
 * together add up; the cleanup job deletes buckets older than 31 days.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('alert_counts')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('bucket', 'bigint', (c) => c.notNull())
    .addColumn('alert_type', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('alert_counts_pk', ['name', 'bucket', 'alert_type'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('alert_counts').ifExists().execute();
}
