import type { Kysely } from 'kysely';
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

export async function migrateToLatest(db: Kysely<Schema>): Promise<MigrateReport> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'tokenkeeper_migrations',
    migrationLockTableName: 'tokenkeeper_migrations_lock',
  });
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
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'tokenkeeper_migrations',
    migrationLockTableName: 'tokenkeeper_migrations_lock',
  });
  const all = await migrator.getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
