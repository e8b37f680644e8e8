import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import * as initial from '../src/store/migrations/0001-initial.ts';
import { findConnection, listConnections, migrateToLatest, openDatabase, MAX_TIME_MS } from '../src/store/index.ts';

/** A database as an older release left it: only the first migration applied, rows written raw. */
async function atFirstMigration() {
  const handle = await openDatabase({ sqlitePath: ':memory:' });
  const migrator = new Migrator({
    db: handle.db,
    provider: { getMigrations: async () => ({ '0001-initial': initial }) },
    migrationTableName: 'tokenkeeper_migrations',
    migrationLockTableName: 'tokenkeeper_migrations_lock',
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

test('upgrading keeps the newest of duplicate connections live and marks the others revoked', async () => {
  const handle = await atFirstMigration();
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
    await assert.rejects(insertRaw(handle.db, 'con_third', { owner: 'u', kind: 'user', account: 'acct', created: 3 }), /UNIQUE/);
  } finally {
    await handle.close();
  }
});

test('upgrading clamps times that could never be read back, so listings work again', async () => {
  const handle = await atFirstMigration();
  try {
    await insertRaw(handle.db, 'con_far', { owner: 'u', kind: 'user', account: null, created: 1, expires: '1152921504606846976' });
    await assert.rejects(listConnections(handle.db, {}), 'before the upgrade the row cannot be read');
    await migrateToLatest(handle.db);
    const [row] = await listConnections(handle.db, {});
    assert.equal(row!.expiresAt, MAX_TIME_MS);
  } finally {
    await handle.close();
  }
});
