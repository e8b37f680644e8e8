import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { findConnection } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

for (const dialect of testDialects()) {
  describe(`failure handling: permanent vs transient, cooldown, circuit breaker (${dialect})`, () => {
    // A fresh service and sandbox per test: circuit breakers and cooldowns must not leak between cases.
    let h: Harness;
    beforeEach(async () => {
      h = await startHarness({ dialect });
    });
    afterEach(async () => h.close());

    test('5xx is transient: bounded retries, then a typed 503, a cooldown, and no storm', async () => {
      const id = await h.connect('t-5xx', 'five');
      h.clock.advance(70_000); // 50 s left: under the 60 s buffer, still usable
      h.sandbox.setFaults({ errorRate5xx: 1 });
      h.sandbox.resetStats();
      const first = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      assert.equal(first.status, 503);
      assert.equal(first.body.error.code, 'provider_unavailable');
      const calls = h.sandbox.stats().byGrantType.refresh_token;
      // Retry-After: 1 s is beyond the in-line retry budget of this harness, so no in-line retry.
      assert.equal(calls, 1);
      const row = await findConnection(h.tk.database.db, id);
      assert.equal(row!.status, 'active', 'one failure does not degrade');
      assert.equal(row!.failureCount, 1);
      assert.ok(row!.nextAttemptAt! > h.clock.now());

      // During the cooldown, callers get a typed error with Retry-After and the provider is left alone.
      for (let i = 0; i < 20; i++) {
        const again = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
        assert.equal(again.status, 503);
        assert.equal(again.body.error.code, 'refresh_cooldown');
        assert.ok(Number(again.headers['retry-after']) >= 1);
      }
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, calls);

      // Without an explicit min_validity, the still-valid token is served despite the failure.
      const lenient = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(lenient.status, 200);

      // The provider recovers; after the cooldown the next request refreshes.
      h.sandbox.resetFaults();
      h.clock.advance(row!.nextAttemptAt! - h.clock.now() + 1);
      const recovered = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      assert.equal(recovered.status, 200);
      assert.equal((await findConnection(h.tk.database.db, id))!.failureCount, 0);
    });

    test('a brief 5xx is retried in-line with backoff and the caller never notices', async () => {
      const id = await h.connect('t-blip', 'blip');
      h.clock.advance(100_000);
      h.sandbox.setFaults({ next5xxCount: 2, retryAfterSeconds: 0 });
      h.sandbox.resetStats();
      const response = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 3);
      assert.equal((await findConnection(h.tk.database.db, id))!.failureCount, 0);
    });

    test('429 honours Retry-After as the cooldown', async () => {
      const id = await h.connect('t-429', 'four');
      h.clock.advance(100_000);
      h.sandbox.setFaults({ errorRate429: 1, retryAfterSeconds: 120 });
      h.sandbox.resetStats();
      const response = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      assert.equal(response.status, 503);
      assert.equal(response.body.error.code, 'provider_unavailable');
      assert.equal(response.headers['retry-after'], '120');
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 1, 'a 120 s Retry-After is not retried in-line');
      const row = await findConnection(h.tk.database.db, id);
      assert.ok(row!.nextAttemptAt! - h.clock.now() >= 119_000);
    });

    test('garbage from the token endpoint is a typed 502 and never needs_reauth', async () => {
      const id = await h.connect('t-garbage', 'gary');
      h.clock.advance(100_000);
      h.sandbox.setFaults({ garbage: true });
      h.sandbox.resetStats();
      const response = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      assert.equal(response.status, 502);
      assert.equal(response.body.error.code, 'invalid_provider_response');
      assert.equal((await findConnection(h.tk.database.db, id))!.status, 'active');
    });

    test('a broken expires_in is a typed 502, and the rotated refresh token it carried is kept', async () => {
      const id = await h.connect('t-expires', 'ezra');
      h.clock.advance(100_000);
      for (const value of [-5, 'soon']) {
        h.sandbox.setFaults({ expiresInValue: value });
        const response = await h.api('POST', `/v1/connections/${id}/refresh`);
        assert.equal(response.status, 502, `expires_in ${value}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, 'invalid_provider_response');
        assert.equal((await findConnection(h.tk.database.db, id))!.status, 'active');
      }
      // The sandbox rotated the refresh token twice; had either been dropped, reuse detection
      // would now revoke the grant. The provider is fixed and the connection refreshes fine.
      h.sandbox.resetFaults();
      const ok = await h.api('POST', `/v1/connections/${id}/refresh`);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const me = await fetch(`${h.sandbox.url}/api/me`, { headers: { authorization: `Bearer ${ok.body.access_token}` } });
      assert.equal(me.status, 200);
    });

    test('a revoked grant is permanent: needs_reauth, an event, no further refreshes, and a reconnect recovers it', async () => {
      const id = await h.connect('t-revoked', 'rita');
      await h.sandbox.revokeGrants('rita');
      h.clock.advance(100_000);
      h.sandbox.resetStats();
      const response = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(response.status, 409);
      assert.equal(response.body.error.code, 'connection_needs_reauth');
      const calls = h.sandbox.stats().byGrantType.refresh_token;
      assert.equal(calls, 1, 'a permanent error is not retried');
      const again = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(again.body.error.code, 'connection_needs_reauth');
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, calls, 'not refreshed again until reconnected');
      const view = await h.api('GET', `/v1/connections/${id}`);
      assert.equal(view.body.status, 'needs_reauth');
      assert.equal(view.body.last_error.code, 'invalid_grant');
      await h.tk.events.settled();
      const events = await h.api('GET', `/v1/connections/${id}/events`);
      assert.ok(events.body.data.some((e: { type: string }) => e.type === 'connection.needs_reauth'));

      const reconnected = await h.connect('t-revoked', 'rita');
      assert.equal(reconnected, id);
      const token = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(token.status, 200);
      assert.equal((await h.api('GET', `/v1/connections/${id}`)).body.status, 'active');
    });

    test('repeated transient failures degrade a connection; a success makes it active again', async () => {
      // A breaker that never opens here, so every failure reaches the connection.
      const d = await startHarness({ dialect, tokenTuning: { circuit: { failureThreshold: 1_000, openMs: 30_000 } } });
      try {
        const id = await d.connect('t-degrade', 'dina');
        d.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
        for (let i = 0; i < 3; i++) {
          d.clock.advance(1_000);
          const forced = await d.api('POST', `/v1/connections/${id}/refresh`);
          assert.equal(forced.status, 503);
        }
        assert.equal((await findConnection(d.tk.database.db, id))!.status, 'degraded');
        assert.equal((await d.api('GET', `/v1/connections/${id}`)).body.status, 'degraded');
        d.sandbox.resetFaults();
        d.clock.advance(1_000);
        const ok = await d.api('POST', `/v1/connections/${id}/refresh`);
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        assert.equal((await findConnection(d.tk.database.db, id))!.status, 'active');
        await d.tk.events.settled();
        const types = (await d.api('GET', `/v1/connections/${id}/events`)).body.data.map((e: { type: string }) => e.type);
        assert.ok(types.includes('connection.degraded'));
        assert.ok(types.includes('connection.recovered'));
      } finally {
        await d.close();
      }
    });

    test('the circuit breaker opens after repeated failures and fails fast', async () => {
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push(await h.connect(`t-circuit-${i}`, `circ${i}`));
      h.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
      h.sandbox.resetStats();
      h.clock.advance(100_000);
      const codes = [];
      for (const id of ids) codes.push((await h.api('GET', `/v1/connections/${id}/token?min_validity=60`)).body.error.code);
      // 3 calls per connection; the breaker opens at 5 consecutive failures.
      assert.ok(codes.includes('circuit_open'), JSON.stringify(codes));
      const before = h.sandbox.stats().byGrantType.refresh_token;
      assert.ok(before <= 6);
      h.sandbox.resetFaults();
      h.clock.advance(31_000); // past the breaker's open period: one trial call goes through
      const recovered = await h.api('POST', `/v1/connections/${ids[2]}/refresh`);
      assert.equal(recovered.status, 200, JSON.stringify(recovered.body));
    });
  });

  describe(`provider quirks through the refresh path (recorded response shapes on a local server) (${dialect})`, () => {
    let h: Harness;
    let server: Server;
    let answer: { status: number; body: string; contentType: string } = { status: 200, body: '{}', contentType: 'application/json' };
    before(async () => {
      h = await startHarness({ dialect });
      server = createServer((request, response) => {
        request.resume();
        request.on('end', () => {
          response.writeHead(answer.status, { 'content-type': answer.contentType });
          response.end(answer.body);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await h.close();
    });

    async function importFor(provider: string, key: string): Promise<string> {
      const { port } = server.address() as AddressInfo;
      const base = `http://127.0.0.1:${port}`;
      const created = await h.api('POST', '/v1/integrations', {
        key,
        provider,
        client_id: 'client',
        client_secret: 'secret-value',
        settings: { authorizationEndpoint: `${base}/authorize`, tokenEndpoint: `${base}/token` },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const imported = await h.api('POST', '/v1/connections', {
        integration: key,
        owner_id: 'quirk-owner',
        access_token: 'old-access',
        refresh_token: 'old-refresh',
        expires_in: 10,
      });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      return imported.body.id;
    }

    test("GitHub's HTTP 200 with an error field is permanent", async () => {
      const id = await importFor('github-app', 'gh');
      answer = { status: 200, contentType: 'application/json', body: JSON.stringify({ error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' }) };
      const response = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(response.status, 409);
      assert.equal(response.body.error.code, 'connection_needs_reauth');
    });

    test("Slack's ok:false is permanent for a revoked token, and a refresh without refresh_token keeps the old one", async () => {
      const id = await importFor('slack', 'slack');
      answer = { status: 200, contentType: 'application/json', body: JSON.stringify({ ok: true, access_token: 'xoxe.new', token_type: 'bot', expires_in: 43200 }) };
      const ok = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.access_token, 'xoxe.new');
      const { record } = await h.tk.connections.get(id);
      assert.equal(h.tk.tokens.peekTokens(record)!.refresh_token, 'old-refresh');

      answer = { status: 200, contentType: 'application/json', body: JSON.stringify({ ok: false, error: 'invalid_refresh_token' }) };
      const failed = await h.api('POST', `/v1/connections/${id}/refresh`);
      assert.equal(failed.status, 409);
      assert.equal(failed.body.error.code, 'connection_needs_reauth');
    });

    test('a 500 with an HTML body is transient', async () => {
      const id = await importFor('custom', 'custom-500');
      answer = { status: 500, contentType: 'text/html', body: '<html>oops</html>' };
      const response = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      assert.equal(response.status, 503);
      assert.equal(response.body.error.code, 'provider_unavailable');
      assert.equal((await findConnection(h.tk.database.db, id))!.status, 'active');
    });
  });
}
