/**
 * Every HTML page Tokenkeeper serves carries the same protective headers: a Content Security
 * Policy that forbids framing (clickjacking) and anything not needed, `nosniff`, and a referrer
 * policy, not only the main page but the connect link's and the OAuth callback's outcome pages
 * too. And the pages answer only the host names this service is configured under, so a
 * DNS-rebinding page cannot read owners and accounts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PUBLIC_URL, startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

function assertProtected(headers: Record<string, unknown>, what: string): void {
  const csp = String(headers['content-security-policy'] ?? '');
  assert.match(csp, /default-src 'none'/, `${what}: CSP default-src`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP frame-ancestors`);
  assert.match(csp, /base-uri 'none'/, `${what}: CSP base-uri`);
  assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.ok(['no-referrer', 'same-origin'].includes(String(headers['referrer-policy'])), `${what}: referrer-policy ${String(headers['referrer-policy'])}`);
  assert.equal(headers['cache-control'], 'no-store', `${what}: cache-control`);
  assert.match(String(headers['content-type']), /^text\/html/, `${what}: content-type`);
}

for (const dialect of testDialects()) {
  describe(`security headers on every HTML page (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('connect link error pages: unknown and expired links', async () => {
      const unknown = await h.http.app.inject({ method: 'GET', url: `/connect/${'b'.repeat(43)}` });
      assert.equal(unknown.statusCode, 404);
      assertProtected(unknown.headers, 'unknown connect link');
      assert.equal(unknown.headers['referrer-policy'], 'no-referrer');

      const session = await h.api('POST', '/v1/connect/sessions', { integration: 'sandbox', owner_id: 'headers-expired' });
      h.clock.advance(11 * 60_000);
      const expired = await h.http.app.inject({ method: 'GET', url: new URL(session.body.connect_url).pathname });
      assert.equal(expired.statusCode, 410);
      assertProtected(expired.headers, 'expired connect link');
    });

    test('OAuth callback error pages and the success page', async () => {
      const missing = await h.http.app.inject({ method: 'GET', url: '/oauth/callback?code=abc' });
      assert.equal(missing.statusCode, 400);
      assertProtected(missing.headers, 'callback without state');
      assert.equal(missing.headers['referrer-policy'], 'no-referrer');

      const denied = await h.authorize('headers-deny', { username: 'dora', deny: true });
      const deniedPage = await h.http.app.inject({ method: 'GET', url: denied });
      assert.equal(deniedPage.statusCode, 400);
      assertProtected(deniedPage.headers, 'access denied page');

      const done = await h.authorize('headers-ok', { username: 'olga' });
      const donePage = await h.http.app.inject({ method: 'GET', url: done });
      assert.equal(donePage.statusCode, 200);
      assert.match(donePage.body, /Connected/);
      assertProtected(donePage.headers, 'connected page');
      assert.equal(donePage.headers['referrer-policy'], 'no-referrer', 'the callback URL holds the code: never leak it in a Referer');
    });

    test('the main page keeps its nonce-based script policy', async () => {
      const page = await h.http.app.inject({ method: 'GET', url: '/', headers: { host: new URL(PUBLIC_URL).host } });
      assert.equal(page.statusCode, 200);
      assertProtected(page.headers, 'main page');
      assert.match(String(page.headers['content-security-policy']), /script-src 'nonce-[A-Za-z0-9+/=]+'/);
    });
  });
}

for (const dialect of testDialects()) {
  describe(`the pages answer only their configured host names (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    const page = (url: string, host: string) => h.http.app.inject({ method: 'GET', url, headers: { host } });

    test('a DNS-rebinding host name is refused with 421 host_not_allowed and reveals nothing', async () => {
      const owner = 'rebinding-victim';
      await h.connect(owner, 'vic');
      for (const host of ['rebound.example:3170', 'rebound.example', '127.0.0.1.rebound.example:3170', 'localhost.rebound.example']) {
        for (const url of ['/', '/ui/connections.json']) {
          const response = await page(url, host);
          assert.equal(response.statusCode, 421, `${url} with Host ${JSON.stringify(host)}`);
          assert.match(response.body, /host_not_allowed/);
          assert.doesNotMatch(response.body, new RegExp(owner));
          assert.doesNotMatch(response.body, /con_[a-z2-7]{20}/, 'no connection ids');
          assertProtected(response.headers, `refused ${url}`);
        }
      }
      const post = await h.http.app.inject({
        method: 'POST',
        url: '/ui/connect',
        headers: { host: 'rebound.example:3170', origin: 'http://rebound.example:3170', 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'integration=sandbox&owner_id=x',
      });
      assert.equal(post.statusCode, 421);
    });

    test('the public URL host and this machine\'s loopback names are accepted', async () => {
      const port = new URL(PUBLIC_URL).port;
      // Loopback names on any port: a browser only sends them when pointed at this machine
      // (an SSH tunnel or `docker -p 8080:3170` changes the port, not who is asking).
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'localhost:8080', 'LOCALHOST:3170']) {
        const response = await page('/', host);
        assert.equal(response.statusCode, 200, `Host ${host}`);
        assert.equal((await page('/ui/connections.json', host)).statusCode, 200, `Host ${host}`);
      }
    });

    test('the OAuth callback and connect links are not host-checked (a proxy may rewrite Host)', async () => {
      const missing = await h.http.app.inject({ method: 'GET', url: '/oauth/callback?code=abc', headers: { host: 'internal-proxy-name:3170' } });
      assert.equal(missing.statusCode, 400);
      assert.match(missing.body, /state_missing/);
    });
  });
}

for (const dialect of testDialects()) {
  describe(`host check in production (${dialect})`, () => {
    test('only the public URL host (default port or explicit), plus loopback names', async (t) => {
      const h = await startHarness({
        dialect,
        env: { TOKENKEEPER_ENV: 'production', TOKENKEEPER_PUBLIC_URL: 'https://tokens.example.com', TOKENKEEPER_DASHBOARD_PASSWORD: 'a-long-enough-password' },
      });
      t.after(() => h.close());
      const authorization = `Basic ${Buffer.from('admin:a-long-enough-password').toString('base64')}`;
      const status = async (host: string) => (await h.http.app.inject({ method: 'GET', url: '/', headers: { host, authorization } })).statusCode;
      assert.equal(await status('tokens.example.com'), 200);
      assert.equal(await status('tokens.example.com:443'), 200);
      assert.equal(await status('TOKENS.example.com'), 200);
      assert.equal(await status('127.0.0.1:3170'), 200);
      assert.equal(await status('tokens.example.com:8443'), 421);
      assert.equal(await status('evil.example'), 421);
    });
  });
}
