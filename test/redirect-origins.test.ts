/**
 * Where the callback may send the browser back to (`redirect_to`): only origins on an allow-list
 * (TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS, the service's own origin, and loopback in development),
 * compared after parsing the URL exactly as a browser will (WHATWG URL), so that
 * `https://trusted.app@evil.example` and `https:\\evil.example` cannot pass for something else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { PUBLIC_URL, startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

const session = (h: Harness, redirectTo: unknown) => h.api('POST', '/v1/connect/sessions', { integration: 'sandbox', owner_id: 'return-user', redirect_to: redirectTo });

function configProblem(value: string): string | null {
  try {
    loadConfig({ env: { TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS: value }, dotenvPath: false });
    return null;
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const problem = error.problems.find((p) => p.variable === 'TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS');
    assert.ok(problem, error.message);
    return problem.message;
  }
}

for (const dialect of testDialects()) {
  describe(`redirect_to allow-list (development, TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS=http://app.test, ${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('origins off the list are refused with 400 redirect_origin_not_allowed naming the variable', async () => {
      for (const redirectTo of [
        'https://evil.example/done',
        'https:\\\\evil.example',
        'https:/\\evil.example/',
        'http://app.test.evil.example/done',
        'https://app.test/done', // another scheme is another origin
        'http://app.test:8080/done', // another port too
      ]) {
        const response = await session(h, redirectTo);
        assert.equal(response.status, 400, `${redirectTo}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, 'redirect_origin_not_allowed', redirectTo);
        assert.match(response.body.error.message, /TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS/);
      }
    });

    test('user info, other schemes and malformed URLs are invalid requests', async () => {
      for (const redirectTo of ['https://app.test@evil.example/', 'http://app.test:secret@app.test/', 'javascript:alert(1)', 'ftp://app.test/', '//evil.example/', '/relative', 'http://', 42]) {
        const response = await session(h, redirectTo);
        assert.equal(response.status, 400, `${String(redirectTo)}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, 'invalid_request', String(redirectTo));
        assert.match(response.body.error.message, /redirect_to/);
      }
    });

    test('listed origins, the service\'s own origin and (in development) loopback are accepted', async () => {
      for (const redirectTo of ['http://app.test/done', 'HTTP://APP.TEST:80/done?x=1#top', `${PUBLIC_URL}/`, 'http://localhost:5173/connected', 'http://127.0.0.1:9/x', 'http://[::1]:4000/']) {
        const response = await session(h, redirectTo);
        assert.equal(response.status, 201, `${redirectTo}: ${JSON.stringify(response.body)}`);
      }
    });

    test('the callback sends the browser to the URL as the browser parses it, with the result added', async () => {
      const path = await h.authorize('return-user-2', { username: 'rita', redirectTo: 'HTTP://APP.TEST:80/done?x=1' });
      const response = await h.http.app.inject({ method: 'GET', url: path });
      assert.equal(response.statusCode, 302);
      const location = new URL(String(response.headers.location));
      assert.equal(location.origin, 'http://app.test');
      assert.equal(location.pathname, '/done');
      assert.equal(location.searchParams.get('x'), '1');
      assert.match(location.searchParams.get('connection_id') ?? '', /^con_/);
    });

    test('a stored session whose return URL is not allowed (made before the allow-list) shows the done page instead', async () => {
      const created = await session(h, 'http://app.test/done');
      assert.equal(created.status, 201);
      await h.tk.database.db.updateTable('connect_sessions').set({ redirect_to: 'https://trusted.app@evil.example/' }).where('id', '=', created.body.id).execute();
      // Walk the link of that very session through the sandbox.
      const { completeSandboxLogin } = await import('./helpers/sandbox-login.ts');
      const opened = await h.http.app.inject({ method: 'GET', url: new URL(created.body.connect_url).pathname });
      assert.equal(opened.statusCode, 302);
      const callback = await completeSandboxLogin(String(opened.headers.location), { username: 'stale' });
      const response = await h.http.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}` });
      assert.equal(response.statusCode, 200, `no redirect off-site: ${String(response.headers.location)}`);
      assert.match(response.body, /Connected/);
      assert.ok(h.logger.lines.some((line) => line.includes('redirect_to is not an allowed origin')));
    });
  });
}

for (const dialect of testDialects()) {
  describe(`redirect_to allow-list in production without the variable (${dialect})`, () => {
    test('only the service\'s own origin; loopback is refused', async (t) => {
      const h = await startHarness({ dialect, env: { TOKENKEEPER_ENV: 'production', TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS: '' } });
      t.after(() => h.close());
      assert.equal((await session(h, `${PUBLIC_URL}/back`)).status, 201);
      for (const redirectTo of ['http://localhost:5173/', 'http://app.test/done']) {
        const response = await session(h, redirectTo);
        assert.equal(response.status, 400, redirectTo);
        assert.equal(response.body.error.code, 'redirect_origin_not_allowed');
      }
    });
  });
}

describe('TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS at start-up', () => {
  test('a list of origins is accepted and normalised', () => {
    const config = loadConfig({ env: { TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS: 'https://App.Example.com, http://localhost:5173/,https://b.example:443' }, dotenvPath: false });
    assert.deepEqual(config.allowedRedirectOrigins, ['https://app.example.com', 'http://localhost:5173', 'https://b.example']);
    assert.deepEqual(loadConfig({ env: {}, dotenvPath: false }).allowedRedirectOrigins, []);
  });

  test('anything that is not an origin stops start-up, naming the variable and the entry', () => {
    for (const [value, expected] of [
      ['https://app.example.com/connected', /path/],
      ['app.example.com', /not an origin/],
      ['https://user@app.example.com', /user name/],
      ['https://app.example.com?x=1', /query/],
      ['ftp://app.example.com', /http/],
      ['*', /not an origin/],
      ['https://a.example,,https://b.example', /empty/],
    ] as const) {
      const message = configProblem(value);
      assert.ok(message, `${value} should be refused`);
      assert.match(message, expected, value);
    }
  });
});
