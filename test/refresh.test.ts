import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTokenkeeper } from '../src/service.ts';
import { findConnection, tryAcquireLease, updateConnectionFenced } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { refreshAtSandbox } from './helpers/sandbox-refresh.ts';

for (const dialect of testDialects()) {
  describe(`always-valid tokens and single-flight refresh (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('a valid token is served from storage; an expiring one is refreshed first', async () => {
      const id = await h.connect('owner-a', 'anna');
      h.sandbox.resetStats();
      const first = await h.api('GET', `/v1/connections/${id}/token`);
      const again = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(again.body.access_token, first.body.access_token);
      assert.equal(h.sandbox.stats().byGrantType.refresh_token ?? 0, 0);

      h.clock.advance(100_000); // 20 s left of 120 s: under the effective buffer (60 s)
      const refreshed = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(refreshed.status, 200);
      assert.notEqual(refreshed.body.access_token, first.body.access_token);
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 1);
      assert.ok(Date.parse(refreshed.body.expires_at) - h.clock.now() > 100_000);
      await h.tk.events.settled();
      const events = await h.api('GET', `/v1/connections/${id}/events`);
      assert.ok(events.body.data.some((e: { type: string; data: { rotated: boolean } }) => e.type === 'token.refreshed' && e.data.rotated));
    });

    test('two naive refreshes with one refresh token get the grant revoked by the sandbox', async () => {
      const id = await h.connect('owner-naive', 'nadia');
      const { record } = await h.tk.connections.get(id);
      const refreshToken = h.tk.tokens.peekTokens(record)!.refresh_token!;
      const one = await refreshAtSandbox(h, refreshToken);
      assert.equal(one.status, 200);
      const rotated = ((await one.json()) as { refresh_token: string }).refresh_token;
      const two = await refreshAtSandbox(h, refreshToken);
      assert.equal(two.status, 400);
      assert.equal(((await two.json()) as { error: string }).error, 'invalid_grant');
      const three = await refreshAtSandbox(h, rotated);
      assert.equal(three.status, 400, 'reuse detection revoked the whole grant');
    });

    test('200 concurrent requests for an expiring token make exactly one refresh call, and the grant stays valid', async () => {
      const id = await h.connect('owner-b', 'boris');
      h.clock.advance(100_000);
      h.sandbox.resetStats();
      const responses = await Promise.all(Array.from({ length: 200 }, () => h.api('GET', `/v1/connections/${id}/token`)));
      assert.ok(responses.every((r) => r.status === 200), JSON.stringify(responses.find((r) => r.status !== 200)?.body));
      assert.equal(new Set(responses.map((r) => r.body.access_token)).size, 1);
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 1);
      // The grant survived: the new refresh token still works.
      h.clock.advance(100_000);
      const later = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(later.status, 200);
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 2);
      const me = await fetch(`${h.sandbox.url}/api/me`, { headers: { authorization: `Bearer ${later.body.access_token}` } });
      assert.equal(me.status, 200);
    });

    test('two service instances on one database refresh once between them', async () => {
      const id = await h.connect('owner-c', 'chen');
      const other = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger });
      try {
        h.clock.advance(100_000);
        h.sandbox.resetStats();
        const results = await Promise.all([
          ...Array.from({ length: 20 }, () => h.tk.tokens.getToken(id)),
          ...Array.from({ length: 20 }, () => other.tokens.getToken(id)),
        ]);
        assert.equal(new Set(results.map((r) => r.accessToken)).size, 1);
        assert.equal(h.sandbox.stats().byGrantType.refresh_token, 1);
      } finally {
        await other.close();
      }
    });

    test('a holder whose lease expired cannot overwrite a newer token set', async () => {
      const id = await h.connect('owner-d', 'dana');
      const db = h.tk.database.db;
      const now = h.clock.now();
      const slow = await tryAcquireLease(db, id, 'slow-holder', now, 1_000);
      assert.ok(slow);
      // The slow holder's lease runs out; a second holder takes over and commits.
      const fast = await tryAcquireLease(db, id, 'fast-holder', now + 2_000, 30_000);
      assert.ok(fast);
      assert.ok(await updateConnectionFenced(db, id, fast.version, { tokenType: 'Bearer', updatedAt: now }, 'fast-holder'));
      // The slow holder finally answers: its write is fenced out.
      const stale = await updateConnectionFenced(db, id, slow.version, { tokenType: 'stale', updatedAt: now }, 'slow-holder');
      assert.equal(stale, null);
      assert.equal((await findConnection(db, id))!.tokenType, 'Bearer');
      assert.equal(await tryAcquireLease(db, id, 'third', now + 3_000, 30_000) === null, false, 'the committing holder released the lease');
    });

    test('min_validity longer than the token lifetime is a typed error, not a refresh loop', async () => {
      const id = await h.connect('owner-e', 'emil');
      h.sandbox.resetStats();
      const response = await h.api('GET', `/v1/connections/${id}/token?min_validity=600`);
      assert.equal(response.status, 422);
      assert.equal(response.body.error.code, 'min_validity_unsatisfiable');
      assert.equal(h.sandbox.stats().byGrantType.refresh_token ?? 0, 0);
      const ok = await h.api('GET', `/v1/connections/${id}/token?min_validity=90`);
      assert.equal(ok.status, 200);
      assert.ok(Date.parse(ok.body.expires_at) - h.clock.now() >= 90_000);
    });

    test('POST /refresh refreshes now and keeps the refresh token working', async () => {
      const id = await h.connect('owner-f', 'fay');
      const before = await h.api('GET', `/v1/connections/${id}/token`);
      const forced = await h.api('POST', `/v1/connections/${id}/refresh`);
      assert.equal(forced.status, 200);
      assert.notEqual(forced.body.access_token, before.body.access_token);
      const again = await h.api('POST', `/v1/connections/${id}/refresh`, '');
      assert.equal(again.status, 200);
    });

    test('the sweep refreshes what is due, once, and reports it', async () => {
      const id = await h.connect('owner-g', 'gus');
      // Other connections from earlier tests are due as well; run one sweep to settle them.
      h.clock.advance(100_000);
      const first = await h.http.app.inject({ method: 'POST', url: '/v1/cron/refresh', headers: { authorization: 'Bearer cron-secret-for-tests-0123456789' } });
      assert.equal(first.statusCode, 200);
      const report = first.json();
      assert.equal(report.job, 'refresh');
      assert.ok(report.refreshed >= 1);
      assert.ok(report.checked >= report.refreshed);
      assert.equal(typeof report.duration_ms, 'number');
      const token = await h.tk.tokens.getToken(id);
      assert.ok(token.expiresAt! - h.clock.now() > 100_000, 'the sweep refreshed this connection');
      const second = await h.http.app.inject({ method: 'POST', url: '/v1/cron/refresh', headers: { authorization: 'Bearer cron-secret-for-tests-0123456789' } });
      assert.equal(second.json().refreshed, 0, 'nothing is due right after a sweep');
    });
  });
}
