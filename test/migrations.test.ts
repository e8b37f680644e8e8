import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import * as initial from '../src/store/migrations/0001-initial.ts';
import { introspectingOnly } from '../src/store/migrate.ts';
import { findConnection, isPostgres, isUniqueViolation, listConnections, migrateToLatest, MAX_TIME_MS, type DatabaseHandle } from '../src/store/index.ts';
import { testDialects, type TestDialect } from './helpers/test-database.ts';
import { testStorage } from './helpers/test-storage.ts';

/** An empty database: SQLite in memory, or a fresh PostgreSQL schema (dropped on close). */
async function emptyDatabase(dialect: TestDialect): Promise<DatabaseHandle> {
  const storage = await testStorage(dialect);
  const handle = await storage.open();
  return {
    ...handle,
    close: async () => {
      await handle.close();
      await storage.drop();
    },
  };
}

/** A database as an older release left it: only the first migration applied, rows written raw. */
async function atFirstMigration(dialect: TestDialect) {
  const handle = await emptyDatabase(dialect);
  const schema = isPostgres(handle.db) ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(handle.db)).rows[0]?.schema : undefined;
  const migrator = new Migrator({
    db: schema ? introspectingOnly(handle.db, schema) : handle.db,
    provider: { getMigrations: async () => ({ '0001-initial': initial }) },
    migrationTableName: 'tokenkeeper_migrations',
    migrationLockTableName: 'tokenkeeper_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const result = await migrator.migrateToLatest();
  assert.equal(result.error, undefined);
  await sql`insert into integrations (id, key, provider, client_id, refresh_buffer_seconds, created_at, updated_at)
    values ('int_a', 'a', 'sandbox', 'c', 300, 1, 1)`.execute(handle.db);
  return handle;
}

async function insertRaw(db: Awaited<ReturnType<typeof atFirstMigration>>['db'], id: string, values: { owner: string | null; kind: string; account: string | null; created: number; expires?: string }) {
  await sql`insert into connections (id, integration_id, owner_id, kind, status, account_id, expires_at, created_at, updated_at)
    values (${id}, 'int_a', ${values.owner}, ${values.kind}, 'active', ${values.account}, ${sql.raw(values.expires ?? 'null')}, ${values.created}, ${values.created})`.execute(db);
}

for (const dialect of testDialects()) {
  test(`upgrading keeps the newest of duplicate connections live and marks the others revoked (${dialect})`, async () => {
    const handle = await atFirstMigration(dialect);
    try {
      await insertRaw(handle.db, 'con_old', { owner: 'u', kind: 'user', account: 'acct', created: 1 });
      await insertRaw(handle.db, 'con_new', { owner: 'u', kind: 'user', account: 'acct', created: 2 });
      await insertRaw(handle.db, 'con_sys_old', { owner: null, kind: 'system', account: null, created: 1 });
      await insertRaw(handle.db, 'con_sys_new', { owner: null, kind: 'system', account: null, created: 2 });
      await migrateToLatest(handle.db);
      assert.equal((await findConnection(handle.db, 'con_new'))!.status, 'active');
      assert.equal((await findConnection(handle.db, 'con_old'))!.status, 'revoked');
      assert.equal((await findConnection(handle.db, 'con_sys_new'))!.status, 'active');
      assert.equal((await findConnection(handle.db, 'con_sys_old'))!.status, 'revoked');
      // From now on the database refuses a second live row for one account.
      await assert.rejects(insertRaw(handle.db, 'con_third', { owner: 'u', kind: 'user', account: 'acct', created: 3 }), (error) => isUniqueViolation(error));
    } finally {
      await handle.close();
    }
  });
}

for (const dialect of testDialects()) {
  test(`upgrading clamps times that could never be read back, so listings work again (${dialect})`, async () => {
    const handle = await atFirstMigration(dialect);
    try {
      await insertRaw(handle.db, 'con_far', { owner: 'u', kind: 'user', account: null, created: 1, expires: '1152921504606846976' });
      // SQLite cannot even read such a row back (PostgreSQL reads it, as a number past 2^53).
      if (dialect === 'sqlite') await assert.rejects(listConnections(handle.db, {}), 'before the upgrade the row cannot be read');
      await migrateToLatest(handle.db);
      const [row] = await listConnections(handle.db, {});
      assert.equal(row!.expiresAt, MAX_TIME_MS);
    } finally {
      await handle.close();
    }
  });
}

test('migrating on PostgreSQL looks at its own schema only: another schema of the database changing meanwhile does not fail it', { skip: !testDialects().includes('postgres') }, async () => {
  // Another application (or another tenant's schema) in the same database creates and drops a
  // table over and over while this one starts, as test suites and shared databases do.
  const handle = await emptyDatabase('postgres');
  const other = await testStorage('postgres');
  const churn = await other.open();
  let stopped = false;
  const churning = (async () => {
    while (!stopped) {
      await sql`create table elsewhere (a integer, b text)`.execute(churn.db);
      await sql`drop table elsewhere`.execute(churn.db);
    }
  })();
  const failures: string[] = [];
  try {
    for (let run = 0; run < 60; run++) {
      await migrateToLatest(handle.db).catch((error: Error) => failures.push(error.message));
    }
  } finally {
    stopped = true;
    await churning;
    await churn.close();
    await other.drop();
    await handle.close();
  }
  assert.deepEqual(failures, []);
});
