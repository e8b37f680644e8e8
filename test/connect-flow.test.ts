import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

for (const dialect of testDialects()) {
  describe(`connect flow against the sandbox provider (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('connects an account, stores its identity, and hands out a token the provider accepts', async () => {
      const id = await h.connect('user-1', 'alice');
      const connection = await h.api('GET', `/v1/connections/${id}`);
      assert.equal(connection.status, 200);
      assert.equal(connection.body.status, 'active');
      assert.equal(connection.body.owner_id, 'user-1');
      assert.equal(connection.body.account_id, 'alice');
      assert.equal(connection.body.integration, 'sandbox');
      assert.equal(JSON.stringify(connection.body).includes('access_token'), false, 'no token in the connection view');

      const token = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(token.status, 200);
      assert.equal(token.headers['cache-control'], 'no-store');
      assert.equal(token.body.token_type, 'Bearer');
      assert.ok(Date.parse(token.body.expires_at) > h.clock.now());
      const me = await fetch(`${h.sandbox.url}/api/me`, { headers: { authorization: `Bearer ${token.body.access_token}` } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { sub: string }).sub, 'alice');
    });

    test('without redirect_to the callback shows a done page', async () => {
      const path = await h.authorize('user-2', { username: 'bob' });
      const response = await h.http.app.inject({ method: 'GET', url: path });
      assert.equal(response.statusCode, 200);
      assert.match(response.headers['content-type'] as string, /text\/html/);
      assert.match(response.body, /Connected/);
      assert.match(response.body, /bob/);
    });

    test('a replayed callback is refused and stores nothing new', async () => {
      const path = await h.authorize('user-3', { username: 'carol' });
      const first = await h.http.app.inject({ method: 'GET', url: path });
      assert.equal(first.statusCode, 200);
      const replay = await h.http.app.inject({ method: 'GET', url: path });
      assert.equal(replay.statusCode, 400);
      assert.match(replay.body, /state_replayed/);
      const list = await h.api('GET', '/v1/connections?owner_id=user-3');
      assert.equal(list.body.data.length, 1);
    });

    test('two callbacks racing with one state: exactly one connects', async () => {
      const path = await h.authorize('user-race', { username: 'racer' });
      const [a, b] = await Promise.all([
        h.http.app.inject({ method: 'GET', url: path }),
        h.http.app.inject({ method: 'GET', url: path }),
      ]);
      assert.deepEqual([a.statusCode, b.statusCode].sort(), [200, 400]);
      const list = await h.api('GET', '/v1/connections?owner_id=user-race');
      assert.equal(list.body.data.length, 1);
    });

    test('unknown, malformed and missing state get distinct codes', async () => {
      const missing = await h.http.app.inject({ method: 'GET', url: '/oauth/callback?code=abc' });
      assert.equal(missing.statusCode, 400);
      assert.match(missing.body, /state_missing/);
      const malformed = await h.http.app.inject({ method: 'GET', url: '/oauth/callback?code=abc&state=%3Cscript%3E' });
      assert.equal(malformed.statusCode, 400);
      assert.match(malformed.body, /state_invalid/);
      assert.doesNotMatch(malformed.body, /<script>/);
      const unknown = await h.http.app.inject({ method: 'GET', url: `/oauth/callback?code=abc&state=${'A'.repeat(43)}` });
      assert.equal(unknown.statusCode, 400);
      assert.match(unknown.body, /state_invalid/);
    });

    test('an expired state is refused after 10 minutes and nothing is stored', async () => {
      const path = await h.authorize('user-late', { username: 'late' });
      h.clock.advance(10 * 60_000 + 1);
      const response = await h.http.app.inject({ method: 'GET', url: path });
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /state_expired/);
      const list = await h.api('GET', '/v1/connections?owner_id=user-late');
      assert.equal(list.body.data.length, 0);
    });

    test('the user denying access ends at the app with error=access_denied', async () => {
      const path = await h.authorize('user-deny', { username: 'dora', deny: true, redirectTo: 'http://app.test/back' });
      const response = await h.http.app.inject({ method: 'GET', url: path });
      assert.equal(response.statusCode, 302);
      const location = new URL(String(response.headers.location));
      assert.equal(location.origin + location.pathname, 'http://app.test/back');
      assert.equal(location.searchParams.get('error'), 'access_denied');
      const pagePath = await h.authorize('user-deny-2', { username: 'dora', deny: true });
      const page = await h.http.app.inject({ method: 'GET', url: pagePath });
      assert.equal(page.statusCode, 400);
      assert.match(page.body, /access_denied/);
      assert.equal((await h.api('GET', '/v1/connections?owner_id=user-deny')).body.data.length, 0);
    });

    test('a callback with a valid state but no code is refused', async () => {
      const path = await h.authorize('user-nocode', { username: 'nocode' });
      const url = new URL(path, 'http://x');
      url.searchParams.delete('code');
      const response = await h.http.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` });
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /code_missing/);
    });

    test('reconnecting the same account for the same owner updates the connection', async () => {
      const first = await h.connect('user-re', 'erin');
      await h.tk.connections.get(first);
      const second = await h.connect('user-re', 'erin');
      assert.equal(second, first);
      const list = await h.api('GET', '/v1/connections?owner_id=user-re');
      assert.equal(list.body.data.length, 1);
      const events = await h.api('GET', `/v1/connections/${first}/events`);
      assert.deepEqual(events.body.data.map((e: { type: string }) => e.type).sort(), ['connection.created', 'connection.reconnected']);
    });

    test('connect links: unknown → 404 page, expired → 410 page', async () => {
      const unknown = await h.http.app.inject({ method: 'GET', url: `/connect/${'b'.repeat(43)}` });
      assert.equal(unknown.statusCode, 404);
      assert.match(unknown.body, /connect_session_not_found/);
      const session = await h.api('POST', '/v1/connect/sessions', { integration: 'sandbox', owner_id: 'user-x' });
      h.clock.advance(11 * 60_000);
      const expired = await h.http.app.inject({ method: 'GET', url: new URL(session.body.connect_url).pathname });
      assert.equal(expired.statusCode, 410);
      assert.match(expired.body, /connect_session_expired/);
    });

    test('connect sessions validate their input', async () => {
      const noOwner = await h.api('POST', '/v1/connect/sessions', { integration: 'sandbox' });
      assert.equal(noOwner.status, 400);
      assert.equal(noOwner.body.error.code, 'invalid_request');
      const unknown = await h.api('POST', '/v1/connect/sessions', { integration: 'nope', owner_id: 'u' });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'integration_not_found');
      const badRedirect = await h.api('POST', '/v1/connect/sessions', { integration: 'sandbox', owner_id: 'u', redirect_to: 'javascript:alert(1)' });
      assert.equal(badRedirect.status, 400);
    });
  });
}
