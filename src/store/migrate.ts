import { sql, type DatabaseIntrospector, type Kysely } from 'kysely';
import { isPostgres } from './database.ts';
import { Migrator, type Migration, type MigrationResultSet } from 'kysely/migration';
import * as initial from './migrations/0001-initial.ts';
import * as refreshSafety from './migrations/0002-refresh-safety.ts';
import * as integrationHealth from './migrations/0003-integration-health.ts';
import * as outboundLimits from './migrations/0004-outbound-limits.ts';
import * as alerts from './migrations/0005-alerts.ts';
import * as connectionTimeline from './migrations/0006-connection-timeline.ts';
import * as appWebhooks from './migrations/0007-app-webhooks.ts';
import * as alertCounts from './migrations/0008-alert-counts.ts';
import * as alertRuleIndexes from './migrations/0009-alert-rule-indexes.ts';
import * as actions from './migrations/0010-actions.ts';
import type { Schema } from './schema.ts';

/**
 * Numbered migrations, listed in code (not read from a folder at run time) so the service runs
 * the same whether started from the repo, a bundle or a serverless function.
 */
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-refresh-safety': refreshSafety,
  '0003-integration-health': integrationHealth,
  '0004-outbound-limits': outboundLimits,
  '0005-alerts': alerts,
  '0006-connection-timeline': connectionTimeline,
  '0007-app-webhooks': appWebhooks,
  '0008-alert-counts': alertCounts,
  '0009-alert-rule-indexes': alertRuleIndexes,
  '0010-actions': actions,
};

export const latestMigration = Object.keys(migrations).at(-1)!;

export interface MigrateReport {
  applied: string[];
  current: string | null;
}

/**
 * The migrator. On PostgreSQL its bookkeeping tables live in the connection's current schema
 * (`search_path`), named explicitly: Kysely otherwise looks for them in every schema, finds
 * another schema's and skips creating its own. Kysely takes a PostgreSQL advisory lock for the
 * run, so instances starting together migrate once.
 */
async function migratorFor(db: Kysely<Schema>): Promise<Migrator> {
  const schema = isPostgres(db) ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema : undefined;
  return new Migrator({
    db: schema ? introspectingOnly(db, schema) : db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'tokenkeeper_migrations',
    migrationLockTableName: 'tokenkeeper_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

/**
 * `db`, whose introspector sees one schema only. Kysely's migrator asks its introspector whether
 * its tables exist, and Kysely's PostgreSQL introspector reads every column of every table in
 * every schema of the database: in a database shared with other applications (or other
 * tenants, or parallel test runs), a table dropped there meanwhile failed our start-up with
 * "relation … does not exist". (Exported for tests that drive a Migrator of their own.)
 */
export function introspectingOnly(db: Kysely<Schema>, schema: string): Kysely<Schema> {
  const introspection: DatabaseIntrospector = {
    getSchemas: async () => (await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace where nspname = ${schema}`.execute(db)).rows,
    getTables: async () => {
      const tables = await sql<{ name: string }>`select tablename as name from pg_catalog.pg_tables where schemaname = ${schema}`.execute(db);
      return tables.rows.map(({ name }) => ({ name, schema, isView: false, isForeign: false, columns: [] }));
    },
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === 'introspection') return introspection;
      const value: unknown = Reflect.get(target, property, target);
      // Kysely keeps its state in private fields: its methods must run on the instance itself.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export async function migrateToLatest(db: Kysely<Schema>): Promise<MigrateReport> {
  const migrator = await migratorFor(db);
  // Up to date (every start but the first after an upgrade): no lock. Kysely's PostgreSQL lock is
  // one advisory lock for the whole database, so taking it would make instances of every schema
  // (other deployments, parallel test runs) wait for each other's start-ups.
  const known = await migrator.getMigrations();
  if (known.every((migration) => migration.executedAt !== undefined)) return { applied: [], current: known.at(-1)?.name ?? null };
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${(result.error as Error).message ?? String(result.error)}`, { cause: result.error });
  }
  const applied = (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  const all = await migrator.getMigrations();
  const done = all.filter((m) => m.executedAt !== undefined);
  return { applied, current: done.at(-1)?.name ?? null };
}

export async function pendingMigrations(db: Kysely<Schema>): Promise<string[]> {
  const migrator = await migratorFor(db);
  const all = await migrator.getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
