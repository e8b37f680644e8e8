/**
 * The first page, in a real headless Chromium against the real service and the real sandbox
 * provider: a person opens `/`, presses Connect, signs in and approves at the sandbox, and comes
 * back to a success banner and an active connection whose expiry counts down. Access rules
 * (production off / Basic auth) and the same-origin guard are checked with plain fetch.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import type { RunningServer } from '../src/server.ts';
import { CHROMIUM, launchChromium, NO_CHROMIUM, startPageService } from './helpers/page-service.ts';
import { testDialects, type TestDialect } from './helpers/test-database.ts';

const SCREENSHOT = '/tmp/tokenkeeper-page.png';


/** A form POST with a chosen Host header, returning the status. */
function postWithHost(url: string, host: string, origin: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', headers: { host, origin, 'content-type': 'application/x-www-form-urlencoded' } }, (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    request.on('error', reject);
    request.end(body);
  });
}

const startService = (env: Record<string, string>, dialect: TestDialect): Promise<RunningServer> => startPageService(env, dialect);

for (const dialect of testDialects()) {
  describe(`the first page in a browser (development, ${dialect})`, { skip: CHROMIUM ? false : NO_CHROMIUM }, () => {
    let service: RunningServer;
    let context: BrowserContext;
    let page: Page;

    before(async () => {
      service = await startService({ TOKENKEEPER_ENV: 'development', TOKENKEEPER_SANDBOX: 'true' }, dialect);
      context = await launchChromium();
      page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(20_000);
    });

    after(async () => {
      await context?.close();
      await service?.close();
    });

    /** Presses Connect for the sandbox as `ownerId`, then walks the sandbox's login and consent pages like a person. */
    async function connectThroughSandbox(ownerId: string, username: string, decision: 'allow' | 'deny'): Promise<void> {
      await page.goto(`${service.url}/`);
      await page.locator('#owner-id').fill(ownerId);
      await page.locator('tr[data-integration="sandbox"]').getByRole('button', { name: 'Connect' }).click();
      await page.locator('#login-form').waitFor();
      assert.equal(new URL(page.url()).origin, service.sandbox!.issuer, 'Connect leads to the sandbox provider');
      await page.locator('#username').fill(username);
      await page.locator('#login-form button[type=submit]').click();
      await page.locator(`#${decision}-form button`).click();
      await page.locator('[data-testid=banner]').waitFor();
      assert.equal(new URL(page.url()).origin, service.url, 'the callback sends the browser back to the page');
    }

    test('connecting the sandbox account: success banner, an active connection, and a countdown that moves', async () => {
      await page.goto(`${service.url}/`);
      const integration = page.locator('tr[data-integration="sandbox"]');
      assert.match(await integration.innerText(), /Sandbox \(local test provider\)\s+sandbox\s+sandbox\s+enabled/);
      assert.equal(await page.locator('#owner-id').inputValue(), 'demo-user');
      // The only connection so far is the sandbox's system connection, minted at start-up.
      const rowsBefore = page.locator('tr[data-connection-id]');
      assert.equal(await rowsBefore.count(), 1);
      assert.match(await rowsBefore.first().innerText(), /system/);

      // Owner ids come from the embedding app's users: the page must show them as text, never as markup.
      const ownerId = '<b>web-user</b>';
      await connectThroughSandbox(ownerId, 'alice-web', 'allow');

      const banner = page.locator('[data-testid=banner]');
      assert.equal(await banner.getAttribute('role'), 'status');
      assert.match(await banner.innerText(), /Account connected/);
      assert.match(await banner.innerText(), /alice-web/);

      const row = page.locator('tr.highlight');
      const connectionId = await row.getAttribute('data-connection-id');
      assert.match(connectionId ?? '', /^con_[a-z2-7]{20}$/);
      assert.equal(await row.locator('[data-testid=status]').innerText(), 'active');
      assert.equal(await row.locator('td.owner').first().innerText(), ownerId);
      assert.equal(await row.locator('td.owner b').count(), 0, 'the owner id was not interpreted as HTML');
      assert.match(await row.locator('td.owner').nth(1).innerText(), /alice-web/);

      const countdown = row.locator('[data-testid=countdown]');
      const first = await countdown.innerText();
      assert.match(first, /^in (\d+m \d\ds|\d+s)$/, `a sandbox token lives 120 s: "${first}"`);
      // The script rewrites the text every second; wait (bounded) until it has changed.
      const exactly = new RegExp(`^${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
      await row.locator('[data-testid=countdown]', { hasNotText: exactly }).waitFor({ timeout: 10_000 });
      assert.match(await countdown.innerText(), /^in (\d+m \d\ds|\d+s)$/);

      // The one-shot banner parameters are gone from the address bar, so a reload shows no banner.
      assert.equal(new URL(page.url()).search, '');

      await page.setViewportSize({ width: 1200, height: 900 });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // Never a token: fetch the real access token through the API and look for it on the page.
      const response = await fetch(`${service.url}/v1/connections/${connectionId}/token?min_validity=1`, {
        headers: { authorization: `Bearer ${service.developmentApiKey}` },
      });
      assert.equal(response.status, 200);
      const { access_token: accessToken } = (await response.json()) as { access_token: string };
      assert.ok(accessToken.length > 10);
      assert.ok(!(await page.content()).includes(accessToken));
      assert.ok(!(await (await fetch(`${service.url}/ui/connections.json`)).text()).includes(accessToken));
    });

    test('denying consent at the provider shows an error banner and stores nothing', async () => {
      await context.clearCookies(); // a fresh sandbox sign-in, so the login and consent pages appear again
      const before = await page.locator('tr[data-connection-id]').count();
      await connectThroughSandbox('deny-user', 'bob-web', 'deny');
      const banner = page.locator('[data-testid=banner]');
      assert.equal(await banner.getAttribute('role'), 'alert');
      assert.equal(await banner.locator('[data-testid=banner-code]').innerText(), 'access_denied');
      assert.match(await banner.innerText(), /Not connected/);
      assert.equal(await page.locator('tr[data-connection-id]').count(), before);
      assert.equal(await page.getByText('deny-user', { exact: true }).count(), 0);
    });

    test('an invalid owner id comes back as an error banner, not a connect attempt', async () => {
      const response = await fetch(`${service.url}/ui/connect`, {
        method: 'POST',
        redirect: 'manual',
        headers: { origin: service.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ integration: 'sandbox', owner_id: 'has a space' }).toString(),
      });
      assert.equal(response.status, 303);
      const location = response.headers.get('location')!;
      assert.equal(location, '/?error=invalid_request');
      await page.goto(`${service.url}${location}`);
      assert.match(await page.locator('[data-testid=banner]').innerText(), /owner id must be 1-200 printable characters/);
    });
  });
}

for (const dialect of testDialects()) {
  describe(`the first page without a browser (${dialect})`, () => {
    test('a Connect form posted from another site is refused (same-origin check)', async (t) => {
      const service = await startService({ TOKENKEEPER_ENV: 'development', TOKENKEEPER_SANDBOX: 'true' }, dialect);
      t.after(() => service.close());
      const form = new URLSearchParams({ integration: 'sandbox', owner_id: 'victim' }).toString();
      const post = (headers: Record<string, string>) =>
        fetch(`${service.url}/ui/connect`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: form,
        });

      const foreign: Record<string, string>[] = [{ origin: 'http://evil.example' }, { origin: 'null' }, { referer: 'http://evil.example/page' }, {}];
      for (const headers of foreign) {
        const refused = await post(headers);
        assert.equal(refused.status, 403, JSON.stringify(headers));
        assert.match(await refused.text(), /cross_origin_request/);
      }
      // A DNS-rebinding page names itself consistently in Host and Origin; that is not us either:
      // the pages do not even answer under its host name (421 host_not_allowed).
      // (fetch always sends its own Host, so this one goes through node:http.)
      assert.equal(await postWithHost(`${service.url}/ui/connect`, 'rebound.example:8080', 'http://rebound.example:8080', form), 421);
      // …whereas a loopback name other than the public URL's is still this machine.
      assert.equal(await postWithHost(`${service.url}/ui/connect`, `localhost:${new URL(service.url).port}`, `http://localhost:${new URL(service.url).port}`, form), 303);

      const accepted = await post({ origin: service.url });
      assert.equal(accepted.status, 303);
      assert.match(accepted.headers.get('location')!, new RegExp(`^${service.url}/connect/[A-Za-z0-9_-]{43}$`));
      assert.equal(accepted.headers.get('cache-control'), 'no-store');
      const byReferer = await post({ referer: `${service.url}/` });
      assert.equal(byReferer.status, 303);
    });

    test('production without a dashboard password: the page does not exist', async (t) => {
      const service = await startService({ TOKENKEEPER_ENV: 'production' }, dialect);
      t.after(() => service.close());
      for (const [method, path] of [['GET', '/'], ['GET', '/ui/connections.json'], ['POST', '/ui/connect']] as const) {
        const response = await fetch(`${service.url}${path}`, { method, headers: { origin: service.url } });
        assert.equal(response.status, 404, `${method} ${path}`);
        const body = (await response.json()) as { error: { code: string } };
        assert.equal(body.error.code, 'route_not_found');
      }
    });

    test('production with a dashboard password: HTTP Basic, any username, only the right password', async (t) => {
      const password = 'correct horse battery staple';
      const service = await startService({ TOKENKEEPER_ENV: 'production', TOKENKEEPER_DASHBOARD_PASSWORD: password }, dialect);
      t.after(() => service.close());
      const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

      for (const authorization of [undefined, basic('admin', 'wrong'), basic('admin', ''), 'Basic !!!', `Bearer ${password}`]) {
        const response = await fetch(`${service.url}/`, { headers: authorization ? { authorization } : {} });
        assert.equal(response.status, 401, String(authorization));
        assert.equal(response.headers.get('www-authenticate'), 'Basic realm="Tokenkeeper"');
        assert.equal(response.headers.get('cache-control'), 'no-store');
      }
      const json = await fetch(`${service.url}/ui/connections.json`);
      assert.equal(json.status, 401);

      for (const user of ['admin', 'anyone', '']) {
        const response = await fetch(`${service.url}/`, { headers: { authorization: basic(user, password) } });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('cache-control'), 'no-store');
        assert.match(response.headers.get('content-type')!, /^text\/html/);
        const html = await response.text();
        assert.match(html, /Integrations/);
        assert.doesNotMatch(html, /dev-api-key/, 'the development curl hint is not shown in production');
      }
      const state = await fetch(`${service.url}/ui/connections.json`, { headers: { authorization: basic('x', password) } });
      assert.equal(state.status, 200);
      assert.deepEqual(((await state.json()) as { connections: unknown[] }).connections, []);
    });
  });
}

if (!CHROMIUM && process.env.CI) {
  test('Chromium is installed (required in CI)', () => {
    assert.fail(`${NO_CHROMIUM}; CI must install Debian's chromium package`);
  });
}
