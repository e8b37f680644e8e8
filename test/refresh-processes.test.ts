import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { findConnection, updateConnectionFenced } from '../src/store/index.ts';
import { spawnServeBeside } from './helpers/cluster.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { refreshTokenWorks } from './helpers/sandbox-refresh.ts';
import { cleanUpServes, type ServeProcess } from './helpers/serve-process.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

// Process edges of the refresh path, with real processes: a `tokenkeeper serve` child shares the
// harness's storage (its SQLite file, or its PostgreSQL schema through DATABASE_URL) and talks to
// the harness's sandbox, and is stopped with real signals.

/** `tokenkeeper serve` on the harness's data dir and storage, without its own sandbox, sweeping at once. */
function startServe(h: Harness): Promise<ServeProcess> {
  return spawnServeBeside(h, {
    TOKENKEEPER_SWEEP_INTERVAL: '5',
    TOKENKEEPER_LEASE_MS: '5000',
    TOKENKEEPER_REFRESH_TIMEOUT_MS: '3000',
    TOKENKEEPER_LOG_LEVEL: 'debug',
  });
}

/** Makes the connection due for the sweep (30 s left of a 120 s token), in wall-clock time. */
async function makeDue(h: Harness, id: string): Promise<void> {
  const row = (await findConnection(h.tk.database.db, id))!;
  const now = Date.now();
  assert.ok(await updateConnectionFenced(h.tk.database.db, id, row.version, { issuedAt: now - 90_000, expiresAt: now + 30_000, updatedAt: now }));
  h.tk.tokens.forget(id);
}

for (const dialect of testDialects()) {
  describe(`refresh across process edges (real processes and signals, ${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    afterEach(() => h.sandbox.resetFaults());
    after(async () => {
      await cleanUpServes();
      await h.close();
    });

    test('SIGTERM while a sweep refresh waits on a rotating provider: the process commits the rotated token before it exits', async () => {
      const id = await h.connect('term-owner', 'theo');
      const before = (await findConnection(h.tk.database.db, id))!;
      await makeDue(h, id);
      h.sandbox.resetStats();
      h.sandbox.setFaults({ latencyMs: 1_500 });
      const serve = await startServe(h);
      await until(() => (h.sandbox.stats().byGrantType.refresh_token ?? 0) >= 1, `the sweep's refresh to reach the sandbox\n${serve.output()}`);
      const { code } = await serve.stop('SIGTERM');
      assert.equal(code, 0, serve.output());
      const after = (await findConnection(h.tk.database.db, id))!;
      assert.equal(after.status, 'active', serve.output());
      assert.notEqual(after.tokensSealed, before.tokensSealed, 'the rotated token set was stored');
      assert.equal(after.leaseOwner, null, 'no lease left behind');
      assert.equal(after.unansweredRefreshAt, null);
      const stored = (await findConnection(h.tk.database.db, id))!;
      assert.ok(await refreshTokenWorks(h, h.tk.tokens.peekTokens(stored)!.refresh_token!), 'the stored refresh token is the live one');
    });

    test('a holder stopped (SIGSTOP) past its lease: the next holder reports refresh_token_lost, and the resumed holder cannot overwrite it', async () => {
      const id = await h.connect('stop-owner', 'stu');
      await makeDue(h, id);
      h.sandbox.resetStats();
      h.sandbox.setFaults({ latencyMs: 500 });
      const serve = await startServe(h);
      try {
        await until(() => (h.sandbox.stats().byGrantType.refresh_token ?? 0) >= 1, `the sweep's refresh to reach the sandbox\n${serve.output()}`);
        serve.child.kill('SIGSTOP');
        // The sandbox answers (and rotates) into the stopped process's socket.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        h.sandbox.resetFaults();
        const stalled = (await findConnection(h.tk.database.db, id))!;
        h.clock.set(Math.max(h.clock.now(), stalled.leaseUntil ?? 0) + 1_000);
        h.tk.tokens.forget(id);
        const response = await h.api('GET', `/v1/connections/${id}/token`);
        assert.equal(response.body.error.code, 'refresh_token_lost', JSON.stringify(response.body));
        const settled = (await findConnection(h.tk.database.db, id))!;
        serve.child.kill('SIGCONT');
        // The resumed holder finishes its call and tries to commit: fenced out by version and owner.
        await until(() => serve.output().includes('refresh result discarded'), `the resumed holder to give up its result\n${serve.output()}`);
        const after = (await findConnection(h.tk.database.db, id))!;
        assert.equal(after.version, settled.version, `the resumed holder wrote nothing\n${serve.output()}`);
        assert.equal(after.status, 'needs_reauth');
        assert.equal(after.lastErrorCode, 'refresh_token_lost');
      } finally {
        serve.child.kill('SIGCONT');
        await serve.stop('SIGTERM');
      }
    });

    test('two processes importing the same account at once make one connection', async () => {
      const [one, two] = await Promise.all([startServe(h), startServe(h)]);
      try {
        for (const serve of [one, two]) {
          // Two processes starting on a loaded machine: a generous bound, not a speed check.
          await serve.waitForReady({ path: '/health', limitMs: 60_000 });
        }
        const post = (url: string, accountId: string): Promise<Response> =>
          fetch(`${url}/v1/connections`, {
            method: 'POST',
            headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ integration: 'sandbox', owner_id: 'twin', account_id: accountId, access_token: 'a', refresh_token: 'r', expires_in: 3600 }),
          });
        for (let trial = 0; trial < 5; trial++) {
          const [a, b] = await Promise.all([post(one.url, `acct-${trial}`), post(two.url, `acct-${trial}`)]);
          const bodies = [(await a.json()) as { id: string }, (await b.json()) as { id: string }];
          assert.deepEqual([a.status, b.status].sort(), [200, 201], JSON.stringify(bodies));
          assert.equal(bodies[0].id, bodies[1].id);
        }
        const rows = await h.api('GET', '/v1/connections?owner_id=twin');
        assert.equal(rows.body.data.length, 5);
      } finally {
        await Promise.all([one.stop('SIGTERM'), two.stop('SIGTERM')]);
      }
    });

    test('kill -9 during the provider call: the next holder reports refresh_token_lost, not an ordinary revocation', async () => {
      const id = await h.connect('kill-owner', 'kim');
      await makeDue(h, id);
      h.sandbox.resetStats();
      h.sandbox.setFaults({ latencyMs: 1_000 });
      const serve = await startServe(h);
      await until(() => (h.sandbox.stats().byGrantType.refresh_token ?? 0) >= 1, `the sweep's refresh to reach the sandbox\n${serve.output()}`);
      await serve.kill();
      // The sandbox still answers the dead process's request (and rotates) once its latency is over.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      h.sandbox.resetFaults();
      const marked = (await findConnection(h.tk.database.db, id))!;
      assert.notEqual(marked.unansweredRefreshAt, null, 'the row says a request was in flight');
      // The dead holder's lease lapses; the next holder refreshes with the only refresh token stored.
      h.clock.set(Math.max(h.clock.now(), marked.leaseUntil ?? 0) + 1_000);
      h.tk.tokens.forget(id);
      const response = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(response.status, 409, JSON.stringify(response.body));
      assert.equal(response.body.error.code, 'refresh_token_lost');
      const shown = await h.api('GET', `/v1/connections/${id}`);
      assert.equal(shown.body.status, 'needs_reauth');
      assert.equal(shown.body.last_error.code, 'refresh_token_lost');
      await h.tk.events.settled();
      const events = await h.api('GET', `/v1/connections/${id}/events`);
      assert.ok(events.body.data.some((event: { type: string }) => event.type === 'connection.refresh_token_lost'));
      const again = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(again.body.error.code, 'refresh_token_lost', 'the state is kept, and reported the same way');
    });
  });
}
