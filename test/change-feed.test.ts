import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { buildHttpApp, createApiKey, type HttpApp } from '../src/http/index.ts';
import { findConnection, updateConnectionFenced, type Database } from '../src/store/index.ts';
import { createTokenkeeper, type Tokenkeeper, type TokenkeeperOptions } from '../src/service.ts';
import { spawnServeBeside } from './helpers/cluster.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { cleanUpServes } from './helpers/serve-process.ts';
import { until } from './helpers/waiting.ts';

// Caches across processes (invariant 10). Two instances on one PostgreSQL schema stand for two
// processes: the change feed (LISTEN/NOTIFY) must carry every change made through one to the
// other's caches at once. The manual clock never moves in these tests, so nothing here can pass
// by a cache entry simply running out.

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

/** Counts the SELECTs an instance sends for connection rows (a spy on its real query executor: every query still runs). */
function countConnectionReads(db: Database): { count(): number } {
  const executor = db.getExecutor() as unknown as { executeQuery(query: { sql: string }, ...rest: unknown[]): Promise<unknown> };
  const original = executor.executeQuery.bind(executor);
  let reads = 0;
  executor.executeQuery = (query, ...rest) => {
    if (/^select\b.*\bfrom "connections"/is.test(query.sql)) reads += 1;
    return original(query, ...rest);
  };
  return { count: () => reads };
}

describe('caches stay coherent across instances on PostgreSQL (LISTEN/NOTIFY)', { skip: !onPostgres && 'set TEST_DATABASE_URL to run the PostgreSQL change-feed tests' }, () => {
  let h: Harness;
  let b: Tokenkeeper;
  let bHttp: HttpApp;

  /** Instance B: entries it caches would be trusted for a minute, so only a notification can drop them in time. */
  const tuning: TokenkeeperOptions['tokenTuning'] = { cacheMaxAgeMs: 60_000, holderPollMs: 60_000 };

  before(async () => {
    h = await startHarness({ dialect: 'postgres' });
    b = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger, tokenTuning: tuning });
    bHttp = await buildHttpApp(b);
    await until(() => h.tk.changes.status() === 'live' && b.changes.status() === 'live', 'both instances listening');
  });

  after(async () => {
    await bHttp?.app.close();
    await b?.close();
    await h?.close();
  });

  test('a connection deleted on A is refused on B at once, though B served it from its cache a moment before', async () => {
    const id = await h.connect('delete-owner', 'dora');
    const served = await b.tokens.getToken(id);
    assert.equal((await b.tokens.getToken(id)).accessToken, served.accessToken, 'B answers from its cache');
    assert.equal((await h.api('DELETE', `/v1/connections/${id}`)).status, 200);
    await until(async () => {
      try {
        await b.tokens.getToken(id);
        return false;
      } catch (error) {
        return (error as { code?: string }).code === 'connection_not_found';
      }
    }, 'B to refuse the deleted connection', 5_000);
  });

  test('a refresh on A: B serves the new token at once, not its cached old one', async () => {
    const id = await h.connect('refresh-owner', 'rolf');
    const old = await b.tokens.getToken(id);
    const refreshed = await h.tk.tokens.forceRefresh(id);
    assert.notEqual(refreshed.accessToken, old.accessToken);
    await until(async () => (await b.tokens.getToken(id)).accessToken === refreshed.accessToken, 'B to serve the refreshed token', 5_000);
  });

  test('an API key revoked on A is refused on B at once', async () => {
    const { key, record } = await createApiKey(h.tk.database.db, h.clock, 'revoked-on-a');
    const callB = async () => (await bHttp.app.inject({ method: 'GET', url: '/v1/connections', headers: { authorization: `Bearer ${key}` } })).statusCode;
    assert.equal(await callB(), 200, 'verified and cached on B');
    assert.equal((await h.api('DELETE', `/v1/api-keys/${record.id}`)).status, 200);
    await until(async () => (await callB()) === 401, 'B to refuse the revoked key', 5_000);
  });

  test('an integration disabled on A is disabled on B at once', async () => {
    const id = await h.connect('disable-owner', 'dina');
    await b.tokens.getToken(id);
    const integrationId = (await h.tk.integrations.getByKey('sandbox')).id;
    assert.equal((await b.integrations.recordById(integrationId)).record.enabled, true);
    await h.tk.integrations.update('sandbox', { enabled: false });
    try {
      await until(async () => {
        try {
          await b.tokens.getToken(id);
          return false;
        } catch (error) {
          return (error as { code?: string }).code === 'integration_disabled';
        }
      }, 'B to refuse tokens of the disabled integration', 5_000);
    } finally {
      await h.tk.integrations.update('sandbox', { enabled: true });
    }
    await until(async () => (await b.integrations.recordById(integrationId)).record.enabled, 'B to see it enabled again', 5_000);
  });

  test('a caller on B waiting for A’s refresh wakes on A’s commit, without polling the row meanwhile', async () => {
    const id = await h.connect('wait-owner', 'walt');
    h.clock.advance(100_000); // 20 s left of 120 s: both instances must refresh before serving
    h.sandbox.resetStats();
    h.sandbox.setFaults({ latencyMs: 2_000 });
    try {
      const onA = h.tk.tokens.getToken(id);
      await until(async () => (await findConnection(h.tk.database.db, id))?.leaseOwner != null, 'A to hold the lease');
      const reads = countConnectionReads(b.database.db);
      // B's fallback poll is a minute: only the notification of A's commit can end its wait in time.
      const onB = b.tokens.getToken(id);
      const [a, fromB] = await Promise.race([
        Promise.all([onA, onB]),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('B was not woken by A’s commit')), 20_000).unref()),
      ]);
      assert.equal(fromB.accessToken, a.accessToken, 'B serves the token A refreshed');
      assert.equal(h.sandbox.stats().tokenRequests, 1, 'one refresh across both instances');
      // Reading before and after waiting: a handful of reads, not one every 20-200 ms for 2 s.
      assert.ok(reads.count() <= 6, `B read the connection row ${reads.count()} times while it waited`);
    } finally {
      h.sandbox.resetFaults();
    }
  });

  test('B’s notification connection killed: what changed meanwhile is not served from its cache, and B listens again by itself', async () => {
    const first = await h.connect('lost-owner', 'lisa');
    const second = await h.connect('lost-owner-2', 'lena');
    await b.tokens.getToken(first);
    await b.tokens.getToken(second);
    // A change nobody announced (as if its notification died with B's connection).
    const row = (await findConnection(h.tk.database.db, first))!;
    assert.ok(await updateConnectionFenced(h.tk.database.db, first, row.version, { status: 'needs_reauth', statusReason: 'test', updatedAt: h.clock.now() }));
    assert.equal((await b.tokens.getToken(first)).connectionId, first, 'unannounced: B still answers from its cache');

    const pid = b.changes.listenerPid();
    assert.ok(pid !== null);
    await sql`select pg_terminate_backend(${pid})`.execute(h.tk.database.db);
    // Down or already back (which drops everything, as messages may have been missed): either way
    // B no longer trusts what it cached before the loss.
    await until(async () => {
      try {
        await b.tokens.getToken(first);
        return false;
      } catch (error) {
        return (error as { code?: string }).code === 'connection_needs_reauth';
      }
    }, 'B to stop serving the changed connection from its cache', 5_000);

    await until(() => b.changes.status() === 'live' && b.changes.listenerPid() !== pid, 'B to listen again');
    const ready = await bHttp.app.inject({ method: 'GET', url: '/ready' });
    assert.deepEqual(ready.json().notifications, { status: 'live' });
    // Notifications reach B again: a refresh on A is served by B at once.
    await b.tokens.getToken(second);
    const refreshed = await h.tk.tokens.forceRefresh(second);
    await until(async () => (await b.tokens.getToken(second)).accessToken === refreshed.accessToken, 'B to serve the refreshed token', 5_000);
  });
});

describe('SQLite: two processes on one file', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
  });

  after(async () => {
    await cleanUpServes();
    await h.close();
  });

  test('a connection deleted by one process is refused by the other within a second of wall-clock time', async () => {
    const serve = await spawnServeBeside(h);
    const url = serve.url;
    await serve.waitForReady({ path: '/health' });
    const id = await h.connect('sqlite-owner', 'sam');
    const token = () => fetch(`${url}/v1/connections/${id}/token`, { headers: { authorization: `Bearer ${h.apiKey}` } });
    assert.equal((await token()).status, 200, 'served (and cached) by the other process');
    assert.equal((await h.api('DELETE', `/v1/connections/${id}`)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const after = await token();
    assert.equal(after.status, 404);
    assert.equal(((await after.json()) as { error: { code: string } }).error.code, 'connection_not_found');
  });
});
