import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SANDBOX_DEFAULT_CLIENT } from '../src/sandbox/index.ts';
import { CRON_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { storedText } from './helpers/test-storage.ts';

for (const dialect of testDialects()) {
  describe(`the HTTP API (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('every /v1 route needs a valid API key; cron routes need the cron secret', async () => {
      for (const authorization of [undefined, 'Bearer wrong', 'Basic abc', `Bearer ${h.apiKey}x`]) {
        const response = await h.http.app.inject({ method: 'GET', url: '/v1/connections', headers: authorization ? { authorization } : {} });
        assert.equal(response.statusCode, 401);
        assert.equal(response.json().error.code, 'unauthorized');
      }
      const noSecret = await h.http.app.inject({ method: 'POST', url: '/v1/cron/refresh', headers: { authorization: `Bearer ${h.apiKey}` } });
      assert.equal(noSecret.statusCode, 401);
      assert.equal(noSecret.json().error.code, 'invalid_cron_secret');
      const unknownJob = await h.http.app.inject({ method: 'POST', url: '/v1/cron/nope', headers: { authorization: `Bearer ${CRON_SECRET}` } });
      assert.equal(unknownJob.statusCode, 404);
      assert.equal(unknownJob.json().error.code, 'unknown_job');
      const ok = await h.http.app.inject({ method: 'POST', url: '/v1/cron/cleanup', headers: { authorization: `Bearer ${CRON_SECRET}` } });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(Object.keys(ok.json()).sort(), ['checked', 'duration_ms', 'failed', 'job', 'needs_reauth', 'refreshed']);
    });

    test('bad input gets a clear 4xx with a stable code, never a 500', async () => {
      const cases: [string, string, unknown, number, string][] = [
        ['POST', '/v1/integrations', '{"key":', 400, 'invalid_json'],
        ['POST', '/v1/integrations', { key: 'x' }, 400, 'invalid_request'],
        ['POST', '/v1/integrations', { key: 'x', provider: 'myspace', client_id: 'c' }, 400, 'unknown_provider'],
        ['POST', '/v1/integrations', { key: 'BAD KEY', provider: 'google', client_id: 'c' }, 400, 'invalid_request'],
        ['POST', '/v1/integrations', { key: 'sandbox', provider: 'google', client_id: 'c' }, 409, 'integration_exists'],
        ['GET', '/v1/integrations/nope', undefined, 404, 'integration_not_found'],
        ['GET', '/v1/connections/not-an-id', undefined, 400, 'invalid_id'],
        ['GET', '/v1/connections/con_aaaaaaaaaaaaaaaaaaaa', undefined, 404, 'connection_not_found'],
        ['GET', '/v1/connections/con_aaaaaaaaaaaaaaaaaaaa/token?min_validity=abc', undefined, 400, 'invalid_request'],
        ['GET', '/v1/connections?status=weird', undefined, 400, 'invalid_request'],
        ['GET', '/v1/connections?after=garbage', undefined, 400, 'invalid_request'],
        ['POST', '/v1/connections', { integration: 'sandbox', owner_id: 'u' }, 400, 'invalid_request'],
        ['POST', '/v1/connections', { integration: 'sandbox', owner_id: 'u', access_token: 'a', expires_in: -1 }, 400, 'invalid_request'],
        ['GET', '/v1/nothing-here', undefined, 404, 'route_not_found'],
      ];
      for (const [method, url, body, status, code] of cases) {
        const response = await h.api(method, url, body);
        assert.equal(response.status, status, `${method} ${url}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, code, `${method} ${url}`);
        assert.equal(typeof response.body.error.message, 'string');
      }
      const big = await h.api('POST', '/v1/integrations', { key: 'big', provider: 'custom', client_id: 'x'.repeat(70_000) });
      assert.equal(big.status, 413);
      assert.equal(big.body.error.code, 'payload_too_large');
      const form = await h.api('POST', '/v1/integrations', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(form.status, 415);
      assert.equal(form.body.error.code, 'unsupported_media_type');
    });

    test('integrations: create, read without the secret, update, delete', async () => {
      const created = await h.api('POST', '/v1/integrations', {
        key: 'acme',
        provider: 'custom',
        client_id: 'acme-client',
        client_secret: 'acme-very-secret',
        settings: { authorizationEndpoint: 'https://acme.test/authorize', tokenEndpoint: 'https://acme.test/token' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.has_client_secret, true);
      assert.equal(JSON.stringify(created.body).includes('acme-very-secret'), false);
      const patched = await h.api('PATCH', '/v1/integrations/acme', { refresh_buffer_seconds: 120, enabled: false });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.refresh_buffer_seconds, 120);
      assert.equal(patched.body.enabled, false);
      const list = await h.api('GET', '/v1/integrations');
      assert.ok(list.body.data.some((i: { key: string }) => i.key === 'acme'));
      assert.equal((await h.api('DELETE', '/v1/integrations/acme')).status, 204);
      assert.equal((await h.api('GET', '/v1/integrations/acme')).status, 404);
    });

    test('import, owner-or-system resolution, and deletion that revokes at the provider', async () => {
      const imported = await h.api('POST', '/v1/connections', {
        integration: 'sandbox',
        owner_id: 'imported-user',
        access_token: 'imported-access-token',
        expires_in: 3600,
        scopes: 'openid api',
      });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      const token = await h.api('GET', `/v1/connections/${imported.body.id}/token`);
      assert.equal(token.body.access_token, 'imported-access-token');

      const owner = await h.api('GET', '/v1/integrations/sandbox/token?owner_id=imported-user');
      assert.equal(owner.status, 200);
      assert.equal(owner.body.source, 'owner');
      const nobody = await h.api('GET', '/v1/integrations/sandbox/token?owner_id=nobody');
      assert.equal(nobody.status, 404);
      assert.equal(nobody.body.error.code, 'no_usable_connection');
      const fallback = await h.api('GET', '/v1/integrations/sandbox/token?owner_id=nobody&fallback=system');
      assert.equal(fallback.status, 200, JSON.stringify(fallback.body));
      assert.equal(fallback.body.source, 'system');
      const me = await fetch(`${h.sandbox.url}/api/me`, { headers: { authorization: `Bearer ${fallback.body.access_token}` } });
      assert.equal(me.status, 200, 'the system token (client credentials) works at the provider');

      const id = await h.connect('to-delete', 'del');
      const { record } = await h.tk.connections.get(id);
      const refreshToken = h.tk.tokens.peekTokens(record)!.refresh_token!;
      const deleted = await h.api('DELETE', `/v1/connections/${id}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.body.revoked_at_provider, true);
      assert.equal((await h.api('GET', `/v1/connections/${id}`)).status, 404);
      const reuse = await fetch(`${h.sandbox.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${SANDBOX_DEFAULT_CLIENT.client_id}:${SANDBOX_DEFAULT_CLIENT.client_secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      });
      assert.equal(reuse.status, 400, 'the provider no longer accepts the revoked refresh token');
    });

    test('importing the same account again updates it and keeps the refresh token when none is given', async () => {
      const first = await h.api('POST', '/v1/connections', {
        integration: 'sandbox', owner_id: 'reimport', account_id: 'acct-1', access_token: 'access-1', refresh_token: 'refresh-1', expires_in: 3600,
      });
      assert.equal(first.status, 201);
      const second = await h.api('POST', '/v1/connections', {
        integration: 'sandbox', owner_id: 'reimport', account_id: 'acct-1', access_token: 'access-2', expires_in: 3600,
      });
      assert.equal(second.status, 200, 'an update, not a second connection');
      assert.equal(second.body.id, first.body.id);
      const { record } = await h.tk.connections.get(first.body.id);
      assert.deepEqual(
        { access: h.tk.tokens.peekTokens(record)!.access_token, refresh: h.tk.tokens.peekTokens(record)!.refresh_token },
        { access: 'access-2', refresh: 'refresh-1' },
      );
      assert.equal((await h.api('GET', '/v1/connections?owner_id=reimport')).body.data.length, 1);
    });

    test('health, metrics and the OpenAPI document', async () => {
      const health = await h.http.app.inject({ method: 'GET', url: '/health' });
      assert.equal(health.statusCode, 200);
      assert.equal(health.json().status, 'ok');
      await h.api('GET', '/v1/integrations/sandbox/token?fallback=system');
      const metrics = await h.http.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(metrics.statusCode, 200);
      for (const name of ['tokenkeeper_token_requests_total', 'tokenkeeper_refreshes_total', 'tokenkeeper_refresh_duration_seconds', 'tokenkeeper_connections{status="active"}']) {
        assert.ok(metrics.body.includes(name), name);
      }
      const openapi = await h.http.app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(openapi.json().openapi, '3.1.0');
      assert.ok(openapi.json().paths['/v1/connections/{id}/token']);
    });

    test('no plaintext token, client secret or PKCE verifier in the stored data or the logs', async () => {
      const id = await h.connect('scan-user', 'scanner');
      h.clock.advance(100_000);
      await h.api('GET', `/v1/connections/${id}/token`);
      await h.tk.events.settled();
      const secrets: string[] = [SANDBOX_DEFAULT_CLIENT.client_secret, h.apiKey];
      const { record } = await h.tk.connections.get(id);
      const tokens = h.tk.tokens.peekTokens(record)!;
      secrets.push(tokens.access_token, tokens.refresh_token!);
      const sessions = await h.tk.database.db.selectFrom('connect_sessions').select(['id', 'code_verifier_sealed']).execute();
      for (const session of sessions) {
        if (session.code_verifier_sealed) secrets.push(h.tk.keyRing.open(session.code_verifier_sealed, `connect_sessions:${session.id}:code_verifier`));
      }
      assert.ok(secrets.length >= 5);
      const stored = await storedText(h.tk.database, h.dataDir);
      assert.ok(stored.includes(id), 'the scan sees the stored rows');
      const logs = h.logger.lines.join('');
      for (const secret of secrets) {
        assert.equal(stored.includes(secret), false, 'a secret was found in the stored data');
        assert.equal(logs.includes(secret), false, 'a secret was found in the logs');
      }
    });
  });
}
