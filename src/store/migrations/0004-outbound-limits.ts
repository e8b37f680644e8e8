import type { Kysely } from 'kysely';

/**
 * Outbound limits shared by every instance on one database (invariant 8 in the cluster shape):
 * one row per integration holding its token bucket (`tokens` at `refilled_at`), the concurrency
 * slots in use (JSON object: permit id → when the slot lapses, so a slot held by a process that
 * died frees itself) and its circuit breaker (consecutive failures, open until, the one half-open
 * probe). Only PostgreSQL uses the table; the embedded shape keeps these in memory. It is created
 * on both so the schema is the same everywhere. Rows go with their integration.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('outbound_limits')
    .addColumn('integration_id', 'text', (c) => c.primaryKey().references('integrations.id').onDelete('cascade'))
    .addColumn('tokens', 'double precision', (c) => c.notNull())
    .addColumn('refilled_at', 'bigint', (c) => c.notNull())
    .addColumn('slots', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('circuit_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('circuit_open_until', 'bigint')
    .addColumn('circuit_probe', 'text')
    .addColumn('circuit_probe_until', 'bigint')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outbound_limits').ifExists().execute();
}
