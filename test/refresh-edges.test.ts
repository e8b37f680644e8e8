import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createTokenkeeper, type Tokenkeeper } from '../src/service.ts';
import { findConnection, listConnections, tryAcquireLease, updateConnectionFenced } from '../src/store/index.ts';
import { SANDBOX_DEFAULT_CLIENT } from '../src/sandbox/index.ts';
import { TokenCache } from '../src/tokens/token-cache.ts';
import { CRON_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { testDialects, type TestDialect } from './helpers/test-database.ts';
import { createRequire } from 'node:module';
import { refreshTokenWorks } from './helpers/sandbox-refresh.ts';
import { until } from './helpers/waiting.ts';

async function storedRefreshToken(h: Harness, id: string): Promise<string> {
  const record = await findConnection(h.tk.database.db, id);
  return h.tk.tokens.peekTokens(record!)!.refresh_token!;
}

/** A second connection to the harness's database that can hold the lock a commit needs. */
async function lockHolder(h: Harness, dialect: TestDialect): Promise<{ lock(): Promise<void>; unlock(): Promise<void>; close(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const blocker = new DatabaseSync(`${h.dataDir}/tokenkeeper.db`);
    return {
      lock: async () => blocker.exec('BEGIN IMMEDIATE'),
      unlock: async () => blocker.exec('COMMIT'),
      close: async () => blocker.close(),
    };
  }
  const pg = createRequire(import.meta.url)('pg') as { Client: new (config: { connectionString: string }) => { connect(): Promise<void>; query(text: string): Promise<unknown>; end(): Promise<void> } };
  const client = new pg.Client({ connectionString: h.config.databaseUrl! });
  await client.connect();
  return {
    lock: async () => {
      await client.query('begin');
      await client.query('lock table connections in access exclusive mode');
    },
    unlock: async () => {
      await client.query('commit');
    },
    close: () => client.end(),
  };
}

/** Runs `call` with the sandbox's fault switches set, and turns them off again whatever happens. */
async function withFaults<T>(h: Harness, faults: Parameters<Harness['sandbox']['setFaults']>[0], call: () => Promise<T>): Promise<T> {
  h.sandbox.setFaults(faults);
  try {
    return await call();
  } finally {
    h.sandbox.resetFaults();
  }
}

/** Moves the clock just past the connection's cooldown (not further: ID tokens are checked against it). */
async function pastCooldown(h: Harness, id: string): Promise<void> {
  const row = (await findConnection(h.tk.database.db, id))!;
  assert.ok(row.nextAttemptAt !== null, 'the connection is cooling down');
  h.clock.set(row.nextAttemptAt + 1);
}

const refreshCalls = (h: Harness): number => h.sandbox.stats().byGrantType.refresh_token ?? 0;

for (const dialect of testDialects()) {
  describe(`refresh edges: nothing lost, nobody wrongly sent to reconnect (${dialect})`, () => {
    let h: Harness;
    let other: Tokenkeeper;
    before(async () => {
      h = await startHarness({ dialect, env: { TOKENKEEPER_LEASE_MS: '15000', TOKENKEEPER_REFRESH_TIMEOUT_MS: '5000' } });
      other = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger });
    });
    after(async () => {
      await other.close();
      await h.close();
    });

    test('a commit that fails on a held lock is retried; the new token set is served meanwhile and lands later', async () => {
      const id = await h.connect('lock-owner', 'lena');
      h.clock.advance(100_000);
      h.sandbox.resetStats();
      h.sandbox.setFaults({ latencyMs: 200 });
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      // Another process's long transaction holding what the commit needs, longer than the storage
      // layer waits: SQLite's write lock past its busy wait, or a PostgreSQL table lock past the
      // statement timeout.
      const blocker = await lockHolder(h, dialect);
      let holdingLock = false;
      let served: Awaited<ReturnType<typeof h.tk.tokens.getToken>>;
      try {
        const pending = h.tk.tokens.getToken(id);
        await until(() => refreshCalls(h) === 1, 'the refresh to reach the sandbox');
        await blocker.lock();
        holdingLock = true;
        loopDelay.enable();
        served = await pending;
        assert.ok(served.expiresAt! - h.clock.now() > 100_000, 'the refreshed token is served while its commit waits');
        // Other work of this process carries on while the commit waits (no synchronous busy wait).
        loopDelay.disable();
        assert.ok(loopDelay.max < 1_000_000_000, `event loop blocked for ${Math.round(loopDelay.max / 1e6)} ms`);
        const again = await h.tk.tokens.getToken(id);
        assert.equal(again.accessToken, served.accessToken);
        await blocker.unlock();
        holdingLock = false;
        await until(async () => (await findConnection(h.tk.database.db, id))!.expiresAt === served.expiresAt, 'the background commit');
      } finally {
        if (holdingLock) await blocker.unlock();
        await blocker.close();
        h.sandbox.resetFaults();
      }
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'active');
      assert.equal(row.leaseOwner, null, 'the lease ended with the commit');
      assert.ok(await refreshTokenWorks(h, await storedRefreshToken(h, id)), 'the stored refresh token is the rotated one');
      assert.ok(h.logger.lines.some((line) => line.includes('"level":"error"') && line.includes('could not store a refreshed token set')));
      assert.ok(!JSON.stringify(h.logger.lines).includes(served.accessToken), 'no token in the logs');
    });

    test('the lease covers the rate-limiter wait: another instance waits for the holder, one refresh in all', async () => {
      const id = await h.connect('limiter-owner', 'lim');
      h.clock.advance(100_000);
      h.sandbox.resetStats();
      const view = await h.tk.integrations.recordById((await findConnection(h.tk.database.db, id))!.integrationId);
      // Occupy every concurrent slot of the integration's limiter (this instance's; on PostgreSQL the cluster's).
      const permits = [];
      for (;;) {
        try {
          permits.push(await h.tk.tokens.guard.acquire(view, 0));
        } catch {
          break;
        }
      }
      const sweep = h.tk.tokens.refreshIfDue(id, 'sweep');
      try {
        // The sweep holds the lease while it waits: callers on other instances wait for it rather
        // than racing it for a permit they would only hand back.
        await until(async () => (await findConnection(h.tk.database.db, id))!.leaseOwner !== null, 'the sweep to take the lease before it waits for the limiter');
        assert.equal(refreshCalls(h), 0);
        const fromOther = other.tokens.getToken(id);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(refreshCalls(h), 0, 'the other instance sent nothing while the holder waited');
        await Promise.all(permits.splice(0).map((permit) => permit.release('not_sent')));
        assert.equal(await sweep, 'refreshed');
        const served = await fromOther;
        assert.equal(refreshCalls(h), 1, 'one refresh call in all');
        assert.equal(served.accessToken, (await h.tk.tokens.getToken(id)).accessToken, 'the waiter got the holder\'s token');
        assert.ok(await refreshTokenWorks(h, await storedRefreshToken(h, id)), 'the grant is intact');
      } finally {
        await Promise.all(permits.map((permit) => permit.release('not_sent')));
        await sweep.catch(() => undefined);
      }
    });

    test('the mark left by a dead holder survives answered failures until the provider refuses the token', async () => {
      const id = await h.connect('mark-owner', 'mark');
      // What a holder that died mid-call leaves: the mark on the row, and a rotated token at the provider.
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.ok(await updateConnectionFenced(h.tk.database.db, id, row.version, { unansweredRefreshAt: h.clock.now() - 40_000, updatedAt: h.clock.now() }));
      assert.ok(await refreshTokenWorks(h, await storedRefreshToken(h, id)));
      h.tk.tokens.forget(id);
      h.clock.advance(100_000);
      assert.equal((await withFaults(h, { errorRate5xx: 1 }, () => h.api('GET', `/v1/connections/${id}/token?min_validity=60`))).status, 503);
      assert.notEqual((await findConnection(h.tk.database.db, id))!.unansweredRefreshAt, null, 'a 503 says nothing about the earlier request');
      await pastCooldown(h, id);
      const response = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(response.body.error.code, 'refresh_token_lost', JSON.stringify(response.body));
    });

    test('an answered failure of our own clears our own mark: a later invalid_grant is an ordinary revocation', async () => {
      const id = await h.connect('own-mark-owner', 'owen');
      h.clock.advance(100_000);
      assert.equal((await withFaults(h, { errorRate5xx: 1 }, () => h.api('GET', `/v1/connections/${id}/token?min_validity=60`))).status, 503);
      assert.equal((await findConnection(h.tk.database.db, id))!.unansweredRefreshAt, null);
      await h.sandbox.revokeGrants('owen');
      await pastCooldown(h, id);
      const response = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(response.body.error.code, 'connection_needs_reauth', JSON.stringify(response.body));
    });

    test('commits are fenced by the lease owner as well as the version', async () => {
      const id = await h.connect('fence-owner', 'fen');
      const db = h.tk.database.db;
      const now = h.clock.now();
      const leased = await tryAcquireLease(db, id, 'holder-a', now, 10_000);
      assert.ok(leased);
      assert.equal(await updateConnectionFenced(db, id, leased.version, { tokenType: 'x', updatedAt: now }, 'holder-b'), null);
      assert.ok(await updateConnectionFenced(db, id, leased.version, { tokenType: 'Bearer', updatedAt: now }, 'holder-a'));
    });

    test('a refresh that loses its fence to a reconnect releases its lease at once', async () => {
      const id = await h.connect('race-owner', 'rico');
      h.clock.advance(100_000);
      h.sandbox.resetStats();
      h.sandbox.setFaults({ latencyMs: 300 });
      try {
        const refreshing = h.tk.tokens.getToken(id);
        await until(() => refreshCalls(h) === 1, 'the refresh to reach the sandbox');
        h.sandbox.setFaults({ latencyMs: 0 });
        const reconnected = await h.connect('race-owner', 'rico');
        assert.equal(reconnected, id, 'the reconnect updated the same connection');
        await refreshing;
      } finally {
        h.sandbox.resetFaults();
      }
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.leaseOwner, null);
      assert.equal(row.leaseUntil, null);
    });

    test('a forced refresh that waited on a failing holder fails; it never returns the old token as refreshed', async () => {
      const id = await h.connect('forced-owner', 'fritz');
      const before = await h.tk.tokens.getToken(id);
      h.clock.advance(100_000);
      h.sandbox.resetStats();
      h.sandbox.setFaults({ latencyMs: 300, errorRate5xx: 1 });
      try {
        const holder = h.tk.tokens.getToken(id, { minValiditySeconds: 60 }).catch((error: unknown) => error);
        await until(() => refreshCalls(h) >= 1, 'the holder to call the sandbox');
        await assert.rejects(other.tokens.forceRefresh(id), (error: { code?: string }) => error.code === 'provider_unavailable');
        await holder;
      } finally {
        h.sandbox.resetFaults();
      }
      const forced = await h.api('POST', `/v1/connections/${id}/refresh`);
      assert.equal(forced.status, 200);
      assert.notEqual(forced.body.access_token, before.accessToken);
    });

    test('a wrong client secret marks the integration failing; connections keep their refresh tokens and resume when fixed', async () => {
      const id = await h.connect('secret-owner', 'sam');
      const refreshBefore = await storedRefreshToken(h, id);
      await h.tk.integrations.update('sandbox', { client_secret: 'a-wrong-secret-typed-by-an-operator' });
      h.clock.advance(100_000);
      h.sandbox.resetStats();
      const failed = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(failed.status, 503);
      assert.equal(failed.body.error.code, 'integration_failing');
      let row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'active', 'the user is not sent to reconnect');
      assert.equal(await storedRefreshToken(h, id), refreshBefore);
      const shown = await h.api('GET', '/v1/integrations/sandbox');
      assert.equal(shown.body.status, 'failing');
      assert.equal(shown.body.failure.code, 'invalid_client');
      // While failing, no more calls go out.
      const callsSoFar = h.sandbox.stats().tokenRequests;
      assert.equal((await h.api('GET', `/v1/connections/${id}/token`)).body.error.code, 'integration_failing');
      const sweep = await h.http.app.inject({ method: 'POST', url: '/v1/cron/refresh', headers: { authorization: `Bearer ${CRON_SECRET}` } });
      assert.equal(sweep.json().failed, 0, 'the sweep leaves a failing integration to its operator');
      assert.equal(h.sandbox.stats().tokenRequests, callsSoFar);
      // The operator fixes the secret: refreshes resume with the same refresh token.
      await h.tk.integrations.update('sandbox', { client_secret: SANDBOX_DEFAULT_CLIENT.client_secret });
      const ok = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'active');
      assert.equal((await h.api('GET', '/v1/integrations/sandbox')).body.status, 'ok');
    });

    test('Retry-After: 86400 is capped by the maximum cooldown and counted as a transient failure', async () => {
      const id = await h.connect('retry-owner', 'rita');
      h.clock.advance(100_000);
      const response = await withFaults(h, { errorRate429: 1, retryAfterSeconds: 86_400 }, () => h.api('GET', `/v1/connections/${id}/token?min_validity=60`));
      assert.equal(response.status, 503);
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'active');
      assert.equal(row.failureCount, 1);
      assert.ok(row.nextAttemptAt! - h.clock.now() <= 3_600_000, `cooldown ${row.nextAttemptAt! - h.clock.now()} ms`);
      assert.ok(row.nextAttemptAt! - h.clock.now() > 0);
    });

    test('expires_in: 0 from the provider is a fault with a cooldown, not a refresh on every request; the rotated token is kept', async () => {
      const id = await h.connect('zero-owner', 'zoe');
      h.clock.advance(100_000);
      h.sandbox.resetStats();
      h.sandbox.setFaults({ expiresInValue: 0 });
      try {
        const first = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
        assert.equal(first.status, 502);
        assert.equal(first.body.error.code, 'invalid_provider_response');
        for (let i = 0; i < 5; i++) {
          const again = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
          assert.equal(again.body.error.code, 'refresh_cooldown');
        }
        assert.equal(refreshCalls(h), 1, 'one call, then the cooldown');
      } finally {
        h.sandbox.resetFaults();
      }
      await pastCooldown(h, id);
      const ok = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      assert.equal(ok.status, 200, 'the refresh token the rejected answer rotated was kept');
    });

    test('a deleted connection is not served from another instance’s cache for more than a second', async () => {
      const id = await h.connect('cache-owner', 'carl');
      await other.tokens.getToken(id); // cached in the other instance
      assert.equal((await h.api('DELETE', `/v1/connections/${id}`)).status, 200);
      h.clock.advance(1_001);
      await assert.rejects(other.tokens.getToken(id), (error: { code?: string }) => error.code === 'connection_not_found');
    });

    test('a read that started before a delete does not put the deleted row back into the cache', () => {
      const cache = new TokenCache({ maxAgeMs: 1_000 });
      const generation = cache.currentGeneration();
      cache.delete('con_x');
      cache.set({ record: { id: 'con_x', version: 1 } as never, tokens: null, loadedAt: 0 }, generation);
      assert.equal(cache.get('con_x', 0), undefined);
    });

    test('twenty first callers of the system token make one client-credentials call and share one token', async () => {
      h.sandbox.resetStats();
      const first = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? h.tk : other).connections.getTokenForOwner('sandbox', null, { fallback: 'system' })));
      assert.equal(new Set(first.map((r) => r.accessToken)).size, 1);
      assert.equal(h.sandbox.stats().byGrantType.client_credentials, 1);
      const [system] = await listConnections(h.tk.database.db, { kind: 'system' });
      assert.equal((await h.api('DELETE', `/v1/connections/${system!.id}`)).status, 200);
      h.sandbox.resetStats();
      const again = await Promise.all(Array.from({ length: 50 }, () => h.api('GET', '/v1/integrations/sandbox/token?fallback=system')));
      assert.ok(again.every((r) => r.status === 200), JSON.stringify(again.find((r) => r.status !== 200)?.body));
      assert.equal(new Set(again.map((r) => r.body.access_token)).size, 1);
      assert.equal(h.sandbox.stats().byGrantType.client_credentials, 1);
      assert.equal((await listConnections(h.tk.database.db, { kind: 'system' })).length, 1);
    });

    test('a failing provider gives system-token callers a typed 503 and a cooldown, not a call per request', async () => {
      const [system] = await listConnections(h.tk.database.db, { kind: 'system' });
      assert.equal((await h.api('DELETE', `/v1/connections/${system!.id}`)).status, 200);
      h.sandbox.resetStats();
      h.sandbox.setFaults({ errorRate5xx: 1 });
      try {
        const responses = [];
        for (let i = 0; i < 100; i++) responses.push(await h.api('GET', '/v1/integrations/sandbox/token?fallback=system'));
        assert.ok(responses.every((r) => r.status === 503), JSON.stringify(responses.find((r) => r.status !== 503)?.body));
        assert.ok(responses.every((r) => typeof r.body.error.code === 'string' && r.body.error.code !== 'internal_error'));
        assert.ok((h.sandbox.stats().byGrantType.client_credentials ?? 0) <= 3, `${h.sandbox.stats().byGrantType.client_credentials} calls`);
      } finally {
        h.sandbox.resetFaults();
      }
      const [minting] = await listConnections(h.tk.database.db, { kind: 'system', status: 'pending' });
      await pastCooldown(h, minting!.id);
      const recovered = await h.api('GET', '/v1/integrations/sandbox/token?fallback=system');
      assert.equal(recovered.status, 200, JSON.stringify(recovered.body));
    });
  });
}
