import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SANDBOX_DEFAULT_CLIENT, startSandbox, type SandboxServer } from '../src/sandbox/index.ts';

// A person clicking through the sandbox's pages in headless Chromium (Debian's `chromium`).
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
// The callback is answered by the test itself (page.route), so nothing has to listen there.
const REDIRECT_URI = 'http://127.0.0.1:9/oauth/callback';

describe('sandbox pages in a browser', { skip: CHROMIUM === undefined ? 'chromium is not installed' : false }, () => {
  let sandbox: SandboxServer;
  let browser: Browser;

  before(async () => {
    sandbox = await startSandbox({ redirectUris: [REDIRECT_URI] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await sandbox?.close();
  });

  async function startAuthorization(page: Page): Promise<{ verifier: string; state: string }> {
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(8).toString('hex');
    const url = new URL(`${sandbox.issuer}/auth`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: SANDBOX_DEFAULT_CLIENT.client_id,
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile api',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    await page.goto(url.href);
    return { verifier, state };
  }

  async function exchange(callback: URL, verifier: string): Promise<Record<string, unknown>> {
    const credentials = Buffer.from(`${SANDBOX_DEFAULT_CLIENT.client_id}:${SANDBOX_DEFAULT_CLIENT.client_secret}`).toString('base64');
    const response = await fetch(`${sandbox.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
    });
    assert.equal(response.status, 200);
    const tokens = (await response.json()) as { access_token: string };
    return (await (await fetch(`${sandbox.issuer}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()) as Record<string, unknown>;
  }

  async function newPage(): Promise<{ page: Page; callback: () => URL | undefined }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    let reached: URL | undefined;
    await page.route(`${REDIRECT_URI}**`, async (route) => {
      reached = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the app' });
    });
    return { page, callback: () => reached };
  }

  test('sign in, allow, and land back at the app with a code; a second account from the same browser', async () => {
    const { page, callback } = await newPage();

    const first = await startAuthorization(page);
    assert.match(await page.textContent('body') ?? '', /Tokenkeeper sandbox/);
    assert.equal(await page.title(), 'Sign in · Tokenkeeper sandbox');
    await page.fill('#username', 'alice');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('#allow-form');
    assert.match(await page.textContent('main') ?? '', /See your email address/);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${REDIRECT_URI}**`);
    assert.equal(callback()!.searchParams.get('state'), first.state);
    assert.equal((await exchange(callback()!, first.verifier)).sub, 'alice');

    // Same browser, same sandbox session: the login page comes back, so bob can connect too.
    const second = await startAuthorization(page);
    await page.fill('#username', 'bob');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${REDIRECT_URI}**`);
    assert.equal(callback()!.searchParams.get('state'), second.state);
    assert.deepEqual(await exchange(callback()!, second.verifier), {
      sub: 'bob',
      email: 'bob@sandbox.test',
      name: 'bob',
      scope: 'openid email profile api',
      client_id: SANDBOX_DEFAULT_CLIENT.client_id,
    });
  });

  test('deny lands back at the app with error=access_denied', async () => {
    const { page, callback } = await newPage();
    const { state } = await startAuthorization(page);
    await page.fill('#username', 'carol');
    await page.press('#username', 'Enter');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(`${REDIRECT_URI}**`);
    assert.equal(callback()!.searchParams.get('error'), 'access_denied');
    assert.equal(callback()!.searchParams.get('state'), state);
  });
});
