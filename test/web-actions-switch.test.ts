/**
 * The actions kill switch on the page, in a real headless Chromium against the real service and
 * the real sandbox provider: an operator sees that the sandbox integration's actions are on,
 * presses "Turn actions off" in an incident and the API then answers 501 action_disabled for its
 * actions (the proxy still works), then presses "Turn actions on" and they run again. An
 * integration no action applies to shows no switch. The same-origin guard, bad input and the
 * production access rules are checked with plain fetch, as for the Silence form.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.ts';
import type { RunningServer } from '../src/server.ts';
import { CHROMIUM, launchChromium, NO_CHROMIUM, connectSandboxUser, startPageService } from './helpers/page-service.ts';
import { testDialects, type TestDialect } from './helpers/test-database.ts';

const startService = (env: Record<string, string>, dialect: TestDialect): Promise<RunningServer> => startPageService(env, dialect, { clock: new ManualClock() });

/** A call to the API with the development API key: status and parsed body. */
async function api(service: RunningServer, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${service.developmentApiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const executeNote = (service: RunningServer, connectionId: string) =>
  api(service, 'POST', `/v1/connections/${connectionId}/actions/sandbox.notes.create/execute`, { title: 'Incident', text: 'from the test' });

for (const dialect of testDialects()) {
  describe(`the actions kill switch on the page, in a browser (${dialect})`, { skip: CHROMIUM ? false : NO_CHROMIUM }, () => {
    let service: RunningServer;
    let connectionId: string;

    before(async () => {
      service = await startService({ TOKENKEEPER_ENV: 'development', TOKENKEEPER_SANDBOX: 'true' }, dialect);
      connectionId = await connectSandboxUser(service, 'olga', 'olga-web');
      // No built-in action applies to Spotify: its row has no switch.
      await service.tk.integrations.create({ key: 'music', provider: 'spotify', client_id: 'c', client_secret: 's' });
    });
    after(async () => service?.close());

    test('the page shows "on"; Turn actions off makes them answer 501 (the proxy keeps working); Turn actions on brings them back', async (t) => {
      const context = await launchChromium();
      t.after(() => context.close());
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(20_000);
      await page.goto(`${service.url}/`);

      const row = page.locator('tr[data-integration="sandbox"]');
      assert.equal(await row.locator('[data-testid=actions-state]').innerText(), 'on');
      assert.equal(await row.locator('[data-testid=actions-off]').count(), 0);
      assert.equal((await page.locator('tr[data-integration="music"] [data-testid=actions]').innerText()).trim(), '—');
      assert.equal(await page.locator('tr[data-integration="music"] button.actions-switch').count(), 0, 'no switch where no action applies');

      await row.getByRole('button', { name: 'Turn actions off' }).click();
      const banner = page.locator('[data-testid=banner]');
      await banner.waitFor();
      assert.equal(await banner.getAttribute('role'), 'status');
      assert.match(await banner.innerText(), /^Actions of sandbox are off/);
      assert.match(await banner.innerText(), /501 action_disabled/);
      assert.equal(new URL(page.url()).search, '?actions_switched=sandbox');
      assert.equal(await row.locator('[data-testid=actions-state]').innerText(), 'off');
      assert.match(await row.locator('[data-testid=actions-off]').innerText(), /answer 501 action_disabled and send nothing; the proxy keeps working/);

      const off = await api(service, 'GET', '/v1/integrations/sandbox');
      assert.equal(off.status, 200);
      assert.equal(off.body.actions_enabled, false);
      const refused = await executeNote(service, connectionId);
      assert.equal(refused.status, 501, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'action_disabled');
      assert.equal(refused.body.error.details.disabled_by, 'integration');
      const proxied = await api(service, 'GET', `/v1/proxy/${connectionId}/notes`);
      assert.equal(proxied.status, 200, 'the proxy is not an action');
      assert.deepEqual(proxied.body.notes, [], 'the refused action created nothing');

      await row.getByRole('button', { name: 'Turn actions on' }).click();
      await page.locator('[data-testid=banner]', { hasText: 'are on' }).waitFor();
      assert.match(await page.locator('[data-testid=banner]').innerText(), /^Actions of sandbox are on/);
      assert.equal(await row.locator('[data-testid=actions-state]').innerText(), 'on');
      assert.equal((await api(service, 'GET', '/v1/integrations/sandbox')).body.actions_enabled, true);
      const executed = await executeNote(service, connectionId);
      assert.equal(executed.status, 200, JSON.stringify(executed.body));
      assert.equal(executed.body.outcome, 'ok');
    });
  });

  describe(`the actions kill switch on the page, without a browser (${dialect})`, () => {
    let service: RunningServer;

    before(async () => {
      service = await startService({ TOKENKEEPER_ENV: 'development', TOKENKEEPER_SANDBOX: 'true' }, dialect);
      await service.tk.integrations.create({ key: 'music', provider: 'spotify', client_id: 'c', client_secret: 's' });
    });
    after(async () => service?.close());

    const post = (form: Record<string, string>, headers: Record<string, string> = { origin: service.url }) =>
      fetch(`${service.url}/ui/integrations/actions`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(form).toString(),
      });
    const actionsEnabled = async (key: string) => (await service.tk.integrations.getByKey(key)).actionsEnabled;

    test('a form posted from another site is refused (same-origin check), and the switch is not moved', async () => {
      const form = { integration: 'sandbox', actions_enabled: 'false' };
      const foreign: Record<string, string>[] = [{ origin: 'http://evil.example' }, { origin: 'null' }, { referer: 'http://evil.example/page' }, {}];
      for (const headers of foreign) {
        const refused = await post(form, headers);
        assert.equal(refused.status, 403, JSON.stringify(headers));
        assert.match(await refused.text(), /cross_origin_request/);
      }
      assert.equal(await actionsEnabled('sandbox'), true);

      const accepted = await post(form, { referer: `${service.url}/` });
      assert.equal(accepted.status, 303);
      assert.equal(accepted.headers.get('location'), '/?actions_switched=sandbox');
      assert.equal(await actionsEnabled('sandbox'), false);
      // The form carries the wanted state: sending it again leaves it off.
      assert.equal((await post(form)).status, 303);
      assert.equal(await actionsEnabled('sandbox'), false);
      assert.equal((await post({ integration: 'sandbox', actions_enabled: 'true' })).headers.get('location'), '/?actions_switched=sandbox');
      assert.equal(await actionsEnabled('sandbox'), true);
    });

    test('bad input (no such integration, one without actions, no state) comes back as an error banner, not a 500', async () => {
      const cases: [Record<string, string>, string, RegExp][] = [
        [{ integration: 'nope', actions_enabled: 'false' }, 'integration_not_found', /no longer exists/],
        [{ integration: '<b>x</b>', actions_enabled: 'false' }, 'integration_not_found', /no longer exists/],
        [{ actions_enabled: 'false' }, 'integration_not_found', /no longer exists/],
        [{ integration: 'music', actions_enabled: 'false' }, 'no_actions', /No action applies/],
        [{ integration: 'sandbox', actions_enabled: 'toggle' }, 'invalid_switch', /on or off/],
        [{ integration: 'sandbox' }, 'invalid_switch', /on or off/],
      ];
      for (const [form, problem, message] of cases) {
        const response = await post(form);
        assert.equal(response.status, 303, JSON.stringify(form));
        const location = response.headers.get('location')!;
        assert.equal(location, `/?actions_error=${problem}`);
        const html = await (await fetch(`${service.url}${location}`)).text();
        assert.match(html, /class="banner error" role="alert"/);
        assert.match(html, /<strong>Actions not switched<\/strong>/);
        assert.match(html, message);
        assert.match(html, /data-testid="banner-code">invalid_request</);
      }
      assert.equal(await actionsEnabled('sandbox'), true);
      assert.equal(await actionsEnabled('music'), true);

      // The page never echoes the address bar: an unknown problem, an integration that does not exist.
      const crafted = await (await fetch(`${service.url}/?actions_error=${encodeURIComponent('<b>Call +1 555</b>')}`)).text();
      assert.match(crafted, /The actions switch could not be changed\./);
      assert.doesNotMatch(crafted, /555/);
      const unknown = await (await fetch(`${service.url}/?actions_switched=nope`)).text();
      assert.doesNotMatch(unknown, /data-testid="banner"/);
    });
  });

  describe(`the actions kill switch in production (${dialect})`, () => {
    test('without a dashboard password the form does not exist; with one, it needs the password', async (t) => {
      const closed = await startService({ TOKENKEEPER_ENV: 'production' }, dialect);
      t.after(() => closed.close());
      const absent = await fetch(`${closed.url}/ui/integrations/actions`, {
        method: 'POST',
        headers: { origin: closed.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'integration=slack&actions_enabled=false',
      });
      assert.equal(absent.status, 404);
      assert.equal(((await absent.json()) as { error: { code: string } }).error.code, 'route_not_found');

      const password = 'correct horse battery staple';
      const service = await startService({ TOKENKEEPER_ENV: 'production', TOKENKEEPER_DASHBOARD_PASSWORD: password }, dialect);
      t.after(() => service.close());
      await service.tk.integrations.create({ key: 'slack', provider: 'slack', client_id: 'c', client_secret: 's' });
      const send = (headers: Record<string, string>) =>
        fetch(`${service.url}/ui/integrations/actions`, {
          method: 'POST',
          redirect: 'manual',
          headers: { origin: service.url, 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: 'integration=slack&actions_enabled=false',
        });
      const anonymous = await send({});
      assert.equal(anonymous.status, 401);
      assert.equal(await service.tk.integrations.getByKey('slack').then((record) => record.actionsEnabled), true);
      const signedIn = await send({ authorization: `Basic ${Buffer.from(`ops:${password}`).toString('base64')}` });
      assert.equal(signedIn.status, 303);
      assert.equal(await service.tk.integrations.getByKey('slack').then((record) => record.actionsEnabled), false);
    });
  });
}

if (!CHROMIUM && process.env.CI) {
  test('Chromium is installed (required in CI)', () => {
    assert.fail(`${NO_CHROMIUM}; CI must install Debian's chromium package`);
  });
}
