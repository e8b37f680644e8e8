/**
 * The page's firing alerts and stuck connections (issue 8, item 7), in a real headless Chromium
 * against the real service, the real sandbox provider and a manual clock: an operator sees what
 * fires and what is stuck, presses Silence on one alert, and comes back to a "Silenced until …"
 * banner, with that alert (and only that one) silenced in storage. The same forms without a
 * script, the same-origin guard, bad input and the production access rules are checked with
 * plain fetch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { ManualClock } from '../src/clock.ts';
import type { RunningServer } from '../src/server.ts';
import { CHROMIUM, launchChromium, NO_CHROMIUM, connectSandboxUser, startPageService } from './helpers/page-service.ts';
import { testDialects, type TestDialect } from './helpers/test-database.ts';

const SCREENSHOT = '/tmp/tokenkeeper-alerts-page.png';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Label values come from data (owner ids are the embedding app's): the page must show them as text. */
const HOSTILE_OWNER = '<img src=x onerror="window.pwned=1">';


const startService = (env: Record<string, string>, dialect: TestDialect, clock: ManualClock): Promise<RunningServer> => startPageService(env, dialect, { clock });

/** GET /v1/<path> with the development API key. */
async function api(service: RunningServer, path: string): Promise<any> {
  const response = await fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${service.developmentApiKey}` } });
  assert.equal(response.status, 200, path);
  return response.json();
}

/** `2025-06-01 14:03 UTC`, as the banner writes the silence's end. */
function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const launch = (javaScriptEnabled: boolean): Promise<BrowserContext> => launchChromium({ javaScriptEnabled });

for (const dialect of testDialects()) {
  describe(`firing alerts and stuck connections on the page, in a browser (${dialect})`, { skip: CHROMIUM ? false : NO_CHROMIUM }, () => {
    const clock = new ManualClock();
    let service: RunningServer;
    let reauthId: string;
    let sessionId: string;
    let raisedAt: number;

    before(async () => {
      service = await startService({ TOKENKEEPER_ENV: 'development', TOKENKEEPER_SANDBOX: 'true' }, dialect, clock);
      // A connection whose user revoked access: its next refresh puts it in needs_reauth, and a
      // day later it is stuck (HIGH, terminal).
      reauthId = await connectSandboxUser(service, 'rita', 'rita-web');
      await service.sandbox!.revokeGrants('rita-web');
      clock.advance(200_000);
      const refused = await fetch(`${service.url}/v1/connections/${reauthId}/token`, { headers: { authorization: `Bearer ${service.developmentApiKey}` } });
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'connection_needs_reauth');
      clock.advance(24 * HOUR);
      // A connect link for an owner who never came back (LOW, not terminal) once 30 minutes pass.
      sessionId = (await service.tk.connect.createSession({ integration: 'sandbox', owner_id: '<i>stuck-owner</i>', redirect_to: `${service.url}/` })).id;

      raisedAt = clock.now();
      await service.tk.alerts.raise({
        type: 'connection_needs_reauth',
        key: 'con_aaaaaaaaaaaaaaaaaaaa',
        severity: 'MEDIUM',
        labels: { integration: 'sandbox', provider: 'sandbox', owner: HOSTILE_OWNER },
        summary: 'connection con_aaaaaaaaaaaaaaaaaaaa needs re-authorization: <script>window.pwned=2</script>',
      });
      await service.tk.alerts.raise({
        type: 'connection_needs_reauth',
        key: 'con_bbbbbbbbbbbbbbbbbbbb',
        severity: 'MEDIUM',
        labels: { integration: 'sandbox', provider: 'sandbox', owner: 'other-owner' },
        summary: 'connection con_bbbbbbbbbbbbbbbbbbbb needs re-authorization',
      });
      await service.tk.alerts.raise({ type: 'sweep_stalled', key: 'sweep', severity: 'HIGH', labels: { job: 'sweep' }, summary: 'the refresh sweep has not completed' });
      clock.advance(31 * MINUTE);
    });

    after(async () => {
      await service?.close();
    });

    test('the page lists firing alerts and stuck connections, as text; Silence silences that alert until the time the banner names', async (t) => {
      const context = await launch(true);
      t.after(() => context.close());
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(20_000);
      await page.goto(`${service.url}/`);

      // Firing alerts: highest severity first, then the longest firing. (The built-in rule's own
      // alert for the revoked connection may be there too, raised when its rule ran.)
      const alertRows = page.locator('[data-testid=firing-alerts] tr[data-alert-type]');
      const keys = await alertRows.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-alert-key')));
      assert.deepEqual(
        keys.filter((key) => key !== reauthId),
        ['sweep', 'con_aaaaaaaaaaaaaaaaaaaa', 'con_bbbbbbbbbbbbbbbbbbbb'],
      );
      const hostile = page.locator('tr[data-alert-key="con_aaaaaaaaaaaaaaaaaaaa"]');
      assert.equal(await hostile.locator('[data-testid=severity]').innerText(), 'MEDIUM');
      assert.equal(await hostile.locator('[data-testid=since]').innerText(), '31m ago');
      assert.equal(await hostile.locator('[data-testid=since]').getAttribute('title'), new Date(raisedAt).toISOString());
      assert.equal(await hostile.locator('[data-testid=silenced]').innerText(), 'no');
      const labels = await hostile.locator('[data-testid=labels]').innerText();
      assert.ok(labels.includes(`owner=${HOSTILE_OWNER}`), labels);
      assert.ok(labels.includes('integration=sandbox'), labels);
      assert.match(await hostile.locator('[data-testid=summary]').innerText(), /<script>window\.pwned=2<\/script>/);
      assert.equal(await page.locator('[data-testid=firing-alerts] img, [data-testid=firing-alerts] script').count(), 0, 'labels and summaries are not markup');
      assert.equal(await page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined);

      // Stuck connections: the terminal needs_reauth first (HIGH), then the unfinished connect session (LOW).
      const stuckRows = page.locator('[data-testid=stuck-connections] tr[data-stuck-id]');
      assert.equal(await stuckRows.count(), 2);
      const reauth = stuckRows.nth(0);
      assert.equal(await reauth.getAttribute('data-stuck-id'), reauthId);
      assert.equal(await reauth.locator('[data-testid=stuck-state]').innerText(), 'needs reauth');
      assert.equal(await reauth.locator('[data-testid=severity]').innerText(), 'HIGH');
      assert.equal(await reauth.locator('[data-testid=terminal]').innerText(), 'terminal');
      assert.equal(await reauth.locator('[data-testid=stuck-for]').innerText(), '1d 0h');
      assert.match(await reauth.locator('[data-testid=action]').innerText(), /Only the user can fix this: sandbox no longer accepts/);
      const session = stuckRows.nth(1);
      assert.equal(await session.getAttribute('data-stuck-id'), sessionId);
      assert.equal(await session.locator('[data-testid=severity]').innerText(), 'LOW');
      assert.equal(await session.locator('[data-testid=terminal]').innerText(), 'no');
      assert.equal(await session.locator('[data-testid=stuck-for]').innerText(), '31m');
      assert.match(await session.innerText(), /<i>stuck-owner<\/i>/);
      assert.equal(await session.locator('i').count(), 0);
      assert.match(await session.locator('[data-testid=action]').innerText(), /was never opened/);

      await page.setViewportSize({ width: 1200, height: 900 });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // Silence the hostile-labelled alert for 4 hours.
      await hostile.locator('select[name=duration]').selectOption('4h');
      await hostile.getByRole('button', { name: 'Silence' }).click();
      const banner = page.locator('[data-testid=banner]');
      await banner.waitFor();
      assert.equal(await banner.getAttribute('role'), 'status');
      const endsAt = clock.now() + 4 * HOUR;
      assert.match(await banner.innerText(), new RegExp(`^Silenced until ${utc(endsAt)}`));
      assert.match(await banner.innerText(), /1 firing alert is held back now/);
      assert.equal(await page.locator('[data-testid=banner] img').count(), 0);
      // The one-shot parameter is gone from the address bar, so a reload shows no banner.
      await page.waitForURL((url) => url.search === '');
      assert.equal(await page.locator('tr[data-alert-key="con_aaaaaaaaaaaaaaaaaaaa"] [data-testid=silenced]').innerText(), 'silenced');
      assert.equal(await page.locator('tr[data-alert-key="con_bbbbbbbbbbbbbbbbbbbb"] [data-testid=silenced]').innerText(), 'no', 'only that alert');
      assert.equal(await page.locator('tr[data-alert-key="sweep"] [data-testid=silenced]').innerText(), 'no');

      // What is stored is what the API shows.
      const silences = (await api(service, '/v1/silences')).data;
      assert.equal(silences.length, 1);
      assert.deepEqual(silences[0].matchers, { type: 'connection_needs_reauth', key: 'con_aaaaaaaaaaaaaaaaaaaa', severity: null, labels: {} });
      assert.equal(silences[0].state, 'active');
      assert.equal(silences[0].created_by, 'dashboard');
      assert.equal(silences[0].ends_at, new Date(endsAt).toISOString());
      const alerts = (await api(service, '/v1/alerts?state=firing')).data as { key: string; silenced: boolean }[];
      assert.deepEqual(alerts.filter((alert) => alert.silenced).map((alert) => alert.key), ['con_aaaaaaaaaaaaaaaaaaaa']);
    });

    test('without JavaScript the Silence form still works (a plain form POST and redirect)', async (t) => {
      const context = await launch(false);
      t.after(() => context.close());
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(20_000);
      await page.goto(`${service.url}/`);
      const row = page.locator('tr[data-alert-key="sweep"]');
      assert.equal(await row.locator('select[name=duration]').inputValue(), '1h', 'one hour unless chosen otherwise');
      await row.getByRole('button', { name: 'Silence' }).click();
      await page.locator('[data-testid=banner]').waitFor();
      assert.match(await page.locator('[data-testid=banner]').innerText(), new RegExp(`^Silenced until ${utc(clock.now() + HOUR)}`));
      assert.match(new URL(page.url()).search, /^\?silenced=sil_[a-z2-7]{20}$/);
      assert.equal(await page.locator('tr[data-alert-key="sweep"] [data-testid=silenced]').innerText(), 'silenced');
      assert.equal(await page.locator('tr[data-alert-key="con_bbbbbbbbbbbbbbbbbbbb"] [data-testid=silenced]').innerText(), 'no');
    });
  });
}

for (const dialect of testDialects()) {
  describe(`firing alerts and stuck connections on the page, without a browser (${dialect})`, () => {
    const clock = new ManualClock();
    let service: RunningServer;

    before(async () => {
      service = await startService({ TOKENKEEPER_ENV: 'development', TOKENKEEPER_SANDBOX: 'true' }, dialect, clock);
    });
    after(async () => service?.close());

    const silence = (form: Record<string, string>, headers: Record<string, string> = { origin: service.url }) =>
      fetch(`${service.url}/ui/alerts/silence`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(form).toString(),
      });

    test('nothing firing, nothing stuck: both sections say so', async () => {
      const html = await (await fetch(`${service.url}/`)).text();
      assert.match(html, /data-testid="no-alerts">No alerts are firing\./);
      assert.match(html, /data-testid="no-stuck">No connection is stuck\./);
      assert.doesNotMatch(html, /data-alert-type=/);
    });

    test('a Silence form posted from another site is refused (same-origin check), and nothing is silenced', async () => {
      await service.tk.alerts.raise({ type: 'sweep_stalled', key: 'sweep', severity: 'HIGH', labels: { job: 'sweep' }, summary: 'the sweep stalled' });
      const form = { type: 'sweep_stalled', key: 'sweep', duration: '24h' };
      const foreign: Record<string, string>[] = [{ origin: 'http://evil.example' }, { origin: 'null' }, { referer: 'http://evil.example/page' }, {}];
      for (const headers of foreign) {
        const refused = await silence(form, headers);
        assert.equal(refused.status, 403, JSON.stringify(headers));
        assert.match(await refused.text(), /cross_origin_request/);
      }
      assert.deepEqual(await service.tk.alerts.listSilences(), []);

      const accepted = await silence(form, { referer: `${service.url}/` });
      assert.equal(accepted.status, 303);
      const location = accepted.headers.get('location')!;
      assert.match(location, /^\/\?silenced=sil_[a-z2-7]{20}$/);
      const [stored] = await service.tk.alerts.listSilences();
      assert.equal(location, `/?silenced=${stored!.id}`);
      assert.equal(stored!.endsAt, clock.now() + 24 * HOUR);
      assert.deepEqual(stored!.matchers, [
        { name: 'type', value: 'sweep_stalled' },
        { name: 'key', value: 'sweep' },
      ]);
      await service.tk.alerts.expireSilence(stored!.id);
    });

    test('bad input (an unknown or resolved alert, a duration not offered) comes back as an error banner, not a 500', async () => {
      await service.tk.alerts.raise({ type: 'channel_failing', key: 'slack', severity: 'HIGH', labels: { channel: 'slack' }, summary: 'slack is failing' });
      await service.tk.alerts.resolve('channel_failing', 'slack');
      const cases: [Record<string, string>, string, RegExp][] = [
        [{ type: 'no_such_alert', key: 'x', duration: '1h' }, 'alert_not_firing', /not firing/],
        [{ type: 'channel_failing', key: 'slack', duration: '1h' }, 'alert_not_firing', /not firing/],
        [{ type: 'sweep_stalled', key: 'sweep', duration: '7d' }, 'invalid_duration', /1 h, 4 h or 24 h/],
        [{ type: 'sweep_stalled', key: 'sweep', duration: 'constructor' }, 'invalid_duration', /1 h, 4 h or 24 h/],
        [{ type: 'sweep_stalled', key: 'sweep' }, 'invalid_duration', /1 h, 4 h or 24 h/],
        [{ type: 'x'.repeat(300), key: 'y'.repeat(300), duration: '1h' }, 'alert_not_firing', /not firing/],
        [{ duration: '1h' }, 'alert_not_firing', /not firing/],
      ];
      for (const [form, problem, message] of cases) {
        const response = await silence(form);
        assert.equal(response.status, 303, JSON.stringify(form));
        const location = response.headers.get('location')!;
        assert.equal(location, `/?silence_error=${problem}`);
        const html = await (await fetch(`${service.url}${location}`)).text();
        assert.match(html, /class="banner error" role="alert"/);
        assert.match(html, /<strong>Not silenced<\/strong>/);
        assert.match(html, message);
        assert.match(html, /data-testid="banner-code">invalid_request</);
      }
      // A body that is not a form names no alert either; one that does not parse is an error page with a code, not a 500.
      const json = await fetch(`${service.url}/ui/alerts/silence`, { method: 'POST', redirect: 'manual', headers: { origin: service.url, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(json.headers.get('location'), '/?silence_error=invalid_duration');
      const broken = await fetch(`${service.url}/ui/alerts/silence`, { method: 'POST', headers: { origin: service.url, 'content-type': 'application/json' }, body: '{' });
      assert.equal(broken.status, 400);
      assert.match(await broken.text(), /data-testid="error-code">invalid_(json|request)</);
      assert.equal((await service.tk.alerts.listSilences({ active: true })).length, 0, 'nothing was silenced');

      // The page never echoes the address bar: an unknown problem or a made-up silence id.
      const crafted = await (await fetch(`${service.url}/?silence_error=${encodeURIComponent('<b>Call +1 555</b>')}`)).text();
      assert.match(crafted, /The silence could not be created\./);
      assert.doesNotMatch(crafted, /555/);
      const unknown = await (await fetch(`${service.url}/?silenced=sil_aaaaaaaaaaaaaaaaaaaa`)).text();
      assert.doesNotMatch(unknown, /data-testid="banner"/);
    });
  });

  describe(`the alert forms in production (${dialect})`, () => {
    test('without a dashboard password there is no page: the Silence form does not exist either', async (t) => {
      const service = await startService({ TOKENKEEPER_ENV: 'production' }, dialect, new ManualClock());
      t.after(() => service.close());
      await service.tk.alerts.raise({ type: 'sweep_stalled', key: 'sweep', severity: 'HIGH', labels: { job: 'sweep' }, summary: 'the sweep stalled' });
      for (const [method, path] of [['GET', '/'], ['POST', '/ui/alerts/silence']] as const) {
        const response = await fetch(`${service.url}${path}`, {
          method,
          headers: { origin: service.url, 'content-type': 'application/x-www-form-urlencoded' },
          body: method === 'POST' ? 'type=sweep_stalled&key=sweep&duration=1h' : undefined,
        });
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'route_not_found');
      }
      assert.deepEqual(await service.tk.alerts.listSilences(), []);
    });

    test('with a dashboard password the Silence form needs it too', async (t) => {
      const password = 'correct horse battery staple';
      const service = await startService({ TOKENKEEPER_ENV: 'production', TOKENKEEPER_DASHBOARD_PASSWORD: password }, dialect, new ManualClock());
      t.after(() => service.close());
      await service.tk.alerts.raise({ type: 'sweep_stalled', key: 'sweep', severity: 'HIGH', labels: { job: 'sweep' }, summary: 'the sweep stalled' });
      const post = (headers: Record<string, string>) =>
        fetch(`${service.url}/ui/alerts/silence`, {
          method: 'POST',
          redirect: 'manual',
          headers: { origin: service.url, 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: 'type=sweep_stalled&key=sweep&duration=1h',
        });
      const anonymous = await post({});
      assert.equal(anonymous.status, 401);
      assert.deepEqual(await service.tk.alerts.listSilences(), []);
      const signedIn = await post({ authorization: `Basic ${Buffer.from(`ops:${password}`).toString('base64')}` });
      assert.equal(signedIn.status, 303);
      assert.equal((await service.tk.alerts.listSilences()).length, 1);
      const page = await fetch(`${service.url}${signedIn.headers.get('location')}`, { headers: { authorization: `Basic ${Buffer.from(`ops:${password}`).toString('base64')}` } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Silenced until/);
    });
  });
}

if (!CHROMIUM && process.env.CI) {
  test('Chromium is installed (required in CI)', () => {
    assert.fail(`${NO_CHROMIUM}; CI must install Debian's chromium package`);
  });
}
