import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import { isPostgres } from '../src/store/index.ts';
import { introspectingOnly } from '../src/store/migrate.ts';
import { startHarness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

const DATABASE_NAMES = { sqlite: 'sqlite', postgres: 'postgresql' } as const;

/**
 * Takes the database one migration back for real (the newest migration's `down`, and its
 * bookkeeping row), as an instance of a newer version sees a database nobody has migrated yet.
 */
async function revertNewestMigration(db: Parameters<typeof isPostgres>[0]): Promise<string> {
  const folder = new URL('../src/store/migrations/', import.meta.url);
  const migrations: Record<string, Migration> = {};
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts')).sort()) {
    migrations[file.replace(/\.ts$/, '')] = (await import(new URL(file, folder).href)) as Migration;
  }
  const schema = isPostgres(db) ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema : undefined;
  const migrator = new Migrator({
    // Kysely's introspection scans every schema; another test file dropping a table meanwhile would fail it.
    db: schema ? introspectingOnly(db, schema) : db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'tokenkeeper_migrations',
    migrationLockTableName: 'tokenkeeper_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const result = await migrator.migrateDown();
  if (result.error) throw result.error;
  return result.results![0]!.migrationName;
}

for (const dialect of testDialects()) {
  describe(`/health and /ready name the database and its state (${dialect})`, () => {
    test('both answer 200 with the database in use when it is reachable and migrated', async () => {
      const h = await startHarness({ dialect });
      try {
        const health = await h.http.app.inject({ method: 'GET', url: '/health' });
        assert.equal(health.statusCode, 200);
        assert.deepEqual(health.json().storage, { status: 'ok', dialect: DATABASE_NAMES[dialect] });
        const ready = await h.http.app.inject({ method: 'GET', url: '/ready' });
        assert.equal(ready.statusCode, 200, ready.body);
        const body = ready.json();
        assert.equal(body.status, 'ready');
        assert.match(body.version, /^\d+\.\d+\.\d+$/);
        assert.deepEqual(body.storage, { status: 'ok', dialect: DATABASE_NAMES[dialect] });
        assert.equal(body.migrations.status, 'applied');
        assert.deepEqual(body.migrations.pending, []);
      } finally {
        await h.close();
      }
    });

    test('/ready answers 503 naming the pending migration when the database is behind the code', async () => {
      const h = await startHarness({ dialect });
      try {
        const reverted = await revertNewestMigration(h.tk.database.db);
        const ready = await h.http.app.inject({ method: 'GET', url: '/ready' });
        assert.equal(ready.statusCode, 503, ready.body);
        const body = ready.json();
        assert.equal(body.status, 'not_ready');
        assert.deepEqual(body.storage, { status: 'ok', dialect: DATABASE_NAMES[dialect] });
        assert.deepEqual(body.migrations, { status: 'pending', pending: [reverted] });
        // Liveness is not readiness: the process is alive and its storage answers.
        const health = await h.http.app.inject({ method: 'GET', url: '/health' });
        assert.equal(health.statusCode, 200);
      } finally {
        await h.close();
      }
    });

    test('/ready and /health answer 503 with the same body shape when the database is unreachable', async () => {
      const h = await startHarness({ dialect });
      try {
        await h.tk.database.close();
        const ready = await h.http.app.inject({ method: 'GET', url: '/ready' });
        assert.equal(ready.statusCode, 503, ready.body);
        const body = ready.json();
        assert.equal(body.status, 'not_ready');
        assert.deepEqual(body.storage, { status: 'unreachable', dialect: DATABASE_NAMES[dialect] });
        assert.deepEqual(body.migrations, { status: 'unknown', pending: [] });
        const health = await h.http.app.inject({ method: 'GET', url: '/health' });
        assert.equal(health.statusCode, 503);
        assert.deepEqual(health.json().storage, { status: 'unreachable', dialect: DATABASE_NAMES[dialect] });
      } finally {
        await h.close();
      }
    });
  });
}
