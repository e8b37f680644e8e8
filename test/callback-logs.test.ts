import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
}

/**
 * Another process holding the storage, so the callback cannot use it: on SQLite a write
 * transaction on the file (busy), on PostgreSQL an exclusive lock on the connect sessions (the
 * callback's query waits out the statement timeout).
 */
async function holdStorage(h: Harness): Promise<() => Promise<void>> {
  if (h.tk.database.dialect === 'sqlite') {
    const blocker = new DatabaseSync(`${h.dataDir}/tokenkeeper.db`);
    blocker.exec('BEGIN IMMEDIATE');
    return async () => {
      blocker.exec('ROLLBACK');
      blocker.close();
    };
  }
  const pg = createRequire(import.meta.url)('pg') as { Client: new (config: { connectionString: string }) => PgClient };
  const blocker = new pg.Client({ connectionString: h.config.databaseUrl! });
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE connect_sessions IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await blocker.query('ROLLBACK');
    await blocker.end();
  };
}

for (const dialect of testDialects()) {
  describe(`the callback while storage is busy (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('storage busy during the callback: a 503 page and a warning in the logs, not an error line', async () => {
      // Without redirect_to the callback answers with its own page (with it, a redirect carries the code).
      const callback = await h.authorize('busy-owner');
      const release = await holdStorage(h);
      try {
        const before = h.logger.lines.length;
        const response = await h.http.app.inject({ method: 'GET', url: callback });
        assert.equal(response.statusCode, 503);
        assert.match(response.body, /storage_unavailable/);
        const lines = h.logger.lines.slice(before).map((line) => JSON.parse(line) as { level: string; msg: string });
        assert.ok(lines.some((line) => line.msg === 'callback failed' && line.level === 'warn'), JSON.stringify(lines.map((line) => [line.level, line.msg])));
        assert.deepEqual(lines.filter((line) => line.level === 'error').map((line) => line.msg), [], 'no error-level line for a transient storage failure');
      } finally {
        await release();
      }
    });
  });
}
