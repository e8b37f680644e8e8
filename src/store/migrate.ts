import { sql, type Kysely } from 'kysely';
import { isPostgres } from './database.ts';
import { Migrator, type Migration, type MigrationResultSet } from 'kysely/migration';
import * as initial from './migrations/0001-initial.ts';
import * as refreshSafety from './migrations/0002-refresh-safety.ts';
import * as integrationHealth from './migrations/0003-integration-health.ts';
import type { Schema } from './schema.ts';

/**
 * Numbered migrations, listed in code (not read from a folder at run time) so the service runs
 * the same whether started from the repo, a bundle or a serverless function.
 */
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-refresh-safety': refreshSafety,
  '0003-integration-health': integrationHealth,
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
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'tokenkeeper_migrations',
    migrationLockTableName: 'tokenkeeper_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

export async function migrateToLatest(db: Kysely<Schema>): Promise<MigrateReport> {
  const migrator = await migratorFor(db);
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
