import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { AlertChannel, GroupNotification } from '../src/alerts/index.ts';
import { findConnection, type AlertRecord } from '../src/store/index.ts';
import { startHarness, type Harness, type HarnessOptions } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

/**
 * The built-in alert rules against the real refresh path: the sandbox provider failing the way
 * providers fail (revoked grants, 5xx, refused client credentials), on the manual clock. Events
 * raise and resolve at once; the periodic `alert-rules` job (run here as its tick would) checks
 * every rule against the database, raising what an event missed and resolving what cleared.
 */

const MIN = 60_000;

/** A channel that keeps what it is sent. */
function recordingChannel(): AlertChannel & { received: GroupNotification[] } {
  const received: GroupNotification[] = [];
  return { name: 'recorder', minSeverity: 'LOW', received, send: async (notification) => void received.push(notification) };
}

for (const dialect of testDialects()) {
  describe(`built-in alert rules (${dialect})`, () => {
    let h: Harness;
    let running: Harness | null = null;
    const start = async (options: HarnessOptions = {}): Promise<Harness> => {
      h = running = await startHarness({ dialect, ...options });
      return h;
    };
    afterEach(async () => {
      await running?.close();
      running = null;
    });

    const alert = (type: string, key: string): Promise<AlertRecord | null> => h.tk.alerts.get(type, key);
    const firing = async (type?: string): Promise<AlertRecord[]> => h.tk.alerts.list({ state: 'firing', ...(type ? { type } : {}) });
    const firingTypes = async (): Promise<string[]> => [...new Set((await firing()).map((record) => record.type))].sort();
    /** One tick of the `alert-rules` job, as the scheduler runs it. */
    const checkRules = async (): Promise<void> => {
      await h.tk.jobs.run('alert-rules');
      await h.tk.events.settled();
    };
    const settle = (): Promise<void> => h.tk.events.settled();

    test('a revoked grant: connection_needs_reauth is firing at once, notified within group_wait naming the connection; a reconnect resolves it', async () => {
      const channel = recordingChannel();
      await start({ alertChannels: [channel] });
      const id = await h.connect('rules-rita', 'rita');
      await h.sandbox.revokeGrants('rita');
      h.clock.advance(100_000);
      const refused = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(refused.body.error.code, 'connection_needs_reauth');
      await settle();

      // No periodic check has run: the event put it in the table.
      const raised = await alert('connection_needs_reauth', id);
      assert.equal(raised?.state, 'firing');
      assert.equal(raised?.severity, 'MEDIUM');
      assert.deepEqual(raised?.labels, { integration: 'sandbox', provider: 'sandbox', owner: 'rules-rita' });
      assert.match(raised!.summary, new RegExp(`connection ${id} \\(owner rules-rita.*\\) of sandbox needs re-authorization`));

      // The notify job's ticks (every 5 s): nothing before group_wait, one notification at it.
      for (let elapsed = 5_000; elapsed <= 25_000; elapsed += 5_000) {
        h.clock.advance(5_000);
        await h.tk.notifier.step();
      }
      assert.equal(channel.received.length, 0, 'gathered for group_wait first');
      h.clock.advance(5_000);
      await h.tk.notifier.step();
      assert.equal(channel.received.length, 1);
      assert.equal(channel.received[0]!.kind, 'firing');
      assert.match(channel.received[0]!.text, new RegExp(`^connection ${id} \\(owner [^)]+\\) of sandbox needs re-authorization: `), 'one alert reads as its own summary, naming the connection');
      assert.deepEqual(channel.received[0]!.alerts.map((notified) => notified.key), [id]);

      // The check agrees with the event: nothing new, nothing resolved.
      h.clock.advance(1_000);
      await checkRules();
      assert.equal((await firing('connection_needs_reauth')).length, 1);

      const metrics = (await h.http.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^tokenkeeper_alerts_firing\{type="connection_needs_reauth",severity="MEDIUM"\} 1$/m);
      assert.match(metrics, /^tokenkeeper_alert_notifications_total\{channel="recorder",status="sent"\} 1$/m);

      assert.equal(await h.connect('rules-rita', 'rita'), id);
      await settle();
      assert.equal((await alert('connection_needs_reauth', id))?.state, 'resolved', 'the reconnect resolved it at once');
      h.clock.advance(5 * MIN);
      await h.tk.notifier.step();
      assert.equal(channel.received.length, 2);
      assert.equal(channel.received[1]!.kind, 'resolved');
      const after = (await h.http.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.doesNotMatch(after, /^tokenkeeper_alerts_firing\{type="connection_needs_reauth"/m);
      assert.match(after, /^tokenkeeper_alert_notifications_total\{channel="recorder",status="sent"\} 2$/m);
    });

    test('refreshes failing for over 15 minutes raise connection_refresh_failing, an expired token token_expired_while_active; the recovery resolves both', async () => {
      // A breaker that never opens: every failure reaches the connection (an open breaker is its own alert).
      await start({ tokenTuning: { circuit: { failureThreshold: 1_000, openMs: 30_000 } } });
      const id = await h.connect('rules-flaky', 'flo');
      h.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
      h.clock.advance(100_000); // 20 s left of 120 s: due
      assert.equal((await h.api('GET', `/v1/connections/${id}/token?min_validity=60`)).status, 503);
      const failingSince = (await findConnection(h.tk.database.db, id))!.failingSince;
      assert.equal(failingSince, h.clock.now());

      h.clock.advance(14 * MIN);
      await checkRules();
      assert.equal(await alert('connection_refresh_failing', id), null, 'not before 15 minutes');
      // The token expired meanwhile and the refresher could not renew it.
      const expired = await alert('token_expired_while_active', id);
      assert.equal(expired?.state, 'firing');
      assert.equal(expired?.severity, 'HIGH');
      assert.match(expired!.summary, /expired at .* and was not refreshed \(last error: /);

      h.clock.advance(2 * MIN);
      await checkRules();
      const failing = await alert('connection_refresh_failing', id);
      assert.equal(failing?.state, 'firing');
      assert.equal(failing?.severity, 'MEDIUM');
      assert.match(failing!.summary, new RegExp(`refreshes failing since ${new Date(failingSince!).toISOString()}`));
      assert.equal(await alert('integration_error_rate', 'sandbox'), null, 'one failure is below the minimum count');

      h.sandbox.resetFaults();
      h.clock.advance(11 * MIN); // past the longest cooldown
      assert.equal((await h.api('GET', `/v1/connections/${id}/token`)).status, 200);
      await settle();
      assert.equal((await alert('connection_refresh_failing', id))?.state, 'resolved', 'the successful refresh resolved it');
      assert.equal((await alert('token_expired_while_active', id))?.state, 'resolved');
      h.clock.advance(1_000);
      await checkRules();
      assert.deepEqual((await firing()).filter((record) => record.key === id), [], 'and the check does not raise them again');
    });

    test('token_expired_while_active needs a way to renew: a token without a refresh token is left to the sweep, which moves it to needs_reauth', async () => {
      await start();
      const id = await h.connect('rules-expiring', 'exa');
      const imported = await h.api('POST', '/v1/connections', { integration: 'sandbox', owner_id: 'rules-imported', access_token: 'opaque', expires_in: 60 });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      h.clock.advance(2 * MIN + 10_000); // the imported token expired 70 s ago, the connected one 10 s ago (within the 1 min grace)
      await checkRules();
      assert.deepEqual(
        (await firing('token_expired_while_active')).map((record) => record.key),
        [],
        'the connected one expired 10 s ago (within the grace); the imported one has no refresh token',
      );
      h.clock.advance(MIN);
      await checkRules();
      assert.deepEqual((await firing('token_expired_while_active')).map((record) => record.key), [id]);

      // The sweep renews the one and gives up on the other.
      await h.tk.jobs.run('refresh');
      await settle();
      assert.equal((await alert('token_expired_while_active', id))?.state, 'resolved');
      assert.equal((await findConnection(h.tk.database.db, imported.body.id))?.status, 'needs_reauth');
      assert.equal((await alert('connection_needs_reauth', imported.body.id))?.state, 'firing');
    });

    test('invalid_client: one integration_failing alert for the integration, none per connection; fixing the credentials resolves it', async () => {
      await start();
      const ids: string[] = [];
      for (let index = 0; index < 3; index++) ids.push(await h.connect(`rules-owner-${index}`, `owner${index}`));
      await h.tk.jobs.run('refresh'); // mints the system connection while the credentials work
      const patched = await h.api('PATCH', '/v1/integrations/sandbox', { client_secret: 'not-the-secret-at-all' });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      h.clock.advance(100_000);
      for (const id of ids) {
        const refused = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
        assert.equal(refused.body.error.code, 'integration_failing', JSON.stringify(refused.body));
      }
      await settle();
      const failing = await firing('integration_failing');
      assert.deepEqual(failing.map((record) => [record.key, record.severity]), [['sandbox', 'HIGH']]);
      assert.match(failing[0]!.summary, /rejects the credentials of integration sandbox .*invalid_client/);

      // Long after every token expired, still the one alert: its connections are its, not news.
      h.clock.advance(20 * MIN);
      await h.tk.jobs.run('refresh');
      await checkRules();
      assert.deepEqual(
        (await firing()).filter((record) => record.type !== 'sweep_stalled').map((record) => `${record.type}/${record.key}`),
        ['integration_failing/sandbox'],
      );

      const { SANDBOX_DEFAULT_CLIENT } = await import('../src/sandbox/index.ts');
      assert.equal((await h.api('PATCH', '/v1/integrations/sandbox', { client_secret: SANDBOX_DEFAULT_CLIENT.client_secret })).status, 200);
      await settle();
      assert.equal((await alert('integration_failing', 'sandbox'))?.state, 'resolved');
      // Right after the integration recovers, its connections' expired tokens are still its doing.
      h.clock.advance(1_000);
      await checkRules();
      assert.deepEqual(await firing('token_expired_while_active'), []);
      assert.equal((await h.api('GET', `/v1/connections/${ids[0]}/token`)).status, 200);
    });

    test('system_token_missing and sweep_stalled (HIGH): /health says degraded and lists them, and ok once the sweep has minted the token', async () => {
      await start();
      // The sandbox integration mints a system token by client credentials; nothing has swept yet.
      await checkRules();
      assert.deepEqual(await firingTypes(), [], 'a fresh installation gets its first sweep’s chance');
      const healthy = await h.http.app.inject({ method: 'GET', url: '/health' });
      assert.equal(healthy.statusCode, 200);
      assert.equal(healthy.json().status, 'ok');
      assert.deepEqual(healthy.json().alerts, []);

      h.clock.advance(3 * MIN + 1_000); // three (assumed) sweep intervals
      await checkRules();
      assert.deepEqual(await firingTypes(), ['sweep_stalled', 'system_token_missing']);
      const missing = (await alert('system_token_missing', 'sandbox'))!;
      assert.equal(missing.severity, 'HIGH');
      assert.match(missing.summary, /has no system connection/);

      const degraded = await h.http.app.inject({ method: 'GET', url: '/health' });
      assert.equal(degraded.statusCode, 200, 'still alive: a probe must not take the instance out for it');
      const body = degraded.json();
      assert.equal(body.status, 'degraded');
      assert.equal(body.storage.status, 'ok');
      assert.deepEqual(body.alerts.map((listed: { type: string; key: string }) => `${listed.type}/${listed.key}`).sort(), ['sweep_stalled/refresh', 'system_token_missing/sandbox']);
      for (const listed of body.alerts) {
        assert.equal(typeof listed.summary, 'string');
        assert.equal(listed.since, new Date(h.clock.now()).toISOString());
      }

      await h.tk.jobs.run('refresh');
      const system = await h.api('GET', '/v1/connections?kind=system');
      assert.equal(system.body.data[0]?.status, 'active');
      h.clock.advance(1_000);
      await checkRules();
      assert.deepEqual(await firingTypes(), []);
      const recovered = await h.http.app.inject({ method: 'GET', url: '/health' });
      assert.equal(recovered.json().status, 'ok');
      assert.deepEqual(recovered.json().alerts, []);

      // The system connection goes; the sweep's next chance is awaited before the alert.
      assert.equal((await h.api('DELETE', `/v1/connections/${system.body.data[0].id}`)).status, 200);
      h.clock.advance(1_000);
      await checkRules();
      assert.equal((await alert('system_token_missing', 'sandbox'))?.state, 'firing', 'the integration is long past its grace: at once');
      await h.tk.jobs.run('refresh');
      h.clock.advance(1_000);
      await checkRules();
      assert.equal((await alert('system_token_missing', 'sandbox'))?.state, 'resolved');
    });

    test('the circuit breaker opening is one integration_circuit_open alert, resolved when it closes', async () => {
      await start();
      const ids: string[] = [];
      for (let index = 0; index < 3; index++) ids.push(await h.connect(`rules-circuit-${index}`, `circuit${index}`));
      h.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
      h.clock.advance(100_000);
      for (const id of ids) await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      await settle();
      const open = await firing('integration_circuit_open');
      assert.deepEqual(open.map((record) => [record.key, record.severity]), [['sandbox', 'MEDIUM']]);
      h.clock.advance(1_000);
      await checkRules();
      assert.equal((await alert('integration_circuit_open', 'sandbox'))?.state, 'firing', 'the check sees the same breaker');

      h.sandbox.resetFaults();
      h.clock.advance(31_000);
      assert.equal((await h.api('POST', `/v1/connections/${ids[0]}/refresh`)).status, 200);
      await settle();
      assert.equal((await alert('integration_circuit_open', 'sandbox'))?.state, 'resolved');
      h.clock.advance(1_000);
      await checkRules();
      assert.equal((await alert('integration_circuit_open', 'sandbox'))?.state, 'resolved');
    });

    test('a refresh error rate over the threshold raises integration_error_rate; it resolves once the window has moved past the failures', async () => {
      await start({
        env: { TOKENKEEPER_ALERT_ERROR_RATE_MIN_REFRESHES: '5', TOKENKEEPER_ALERT_ERROR_RATE: '50' },
        tokenTuning: { circuit: { failureThreshold: 1_000, openMs: 30_000 } },
      });
      const id = await h.connect('rules-rate', 'rate');
      h.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
      for (let attempt = 0; attempt < 3; attempt++) {
        h.clock.advance(1_000);
        assert.equal((await h.api('POST', `/v1/connections/${id}/refresh`)).status, 503);
      }
      h.sandbox.resetFaults();
      h.clock.advance(1_000);
      assert.equal((await h.api('POST', `/v1/connections/${id}/refresh`)).status, 200);
      await settle();
      await checkRules();
      assert.equal(await alert('integration_error_rate', 'sandbox'), null, 'four refreshes: under the minimum of five');

      h.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
      h.clock.advance(1_000);
      assert.equal((await h.api('POST', `/v1/connections/${id}/refresh`)).status, 503);
      await settle();
      h.clock.advance(1_000);
      await checkRules();
      const rate = await alert('integration_error_rate', 'sandbox');
      assert.equal(rate?.state, 'firing');
      assert.match(rate!.summary, /80 % of the refreshes of integration sandbox failed in the last 15 min \(4 of 5\)/);

      h.sandbox.resetFaults();
      h.clock.advance(16 * MIN);
      await checkRules();
      assert.equal((await alert('integration_error_rate', 'sandbox'))?.state, 'resolved');
    });

    test('the cache hit rate of an instance: below 70 % over the window raises cache_hit_rate_low, a quiet instance never does, recovery resolves it', async () => {
      await start({ env: { TOKENKEEPER_ALERT_CACHE_HIT_RATE_MIN_REQUESTS: '10' } });
      const instance = h.tk.alertRules.instanceId;
      const id = await h.connect('rules-cache', 'cache');
      // Few requests, all misses: under the minimum, nothing.
      for (let index = 0; index < 5; index++) {
        h.clock.advance(100_000);
        assert.equal((await h.api('GET', `/v1/connections/${id}/token?min_validity=60`)).status, 200);
      }
      await settle();
      assert.equal(await alert('cache_hit_rate_low', instance), null);
      // More misses than hits over the window.
      for (let index = 0; index < 5; index++) {
        h.clock.advance(100_000);
        await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
        await h.api('GET', `/v1/connections/${id}/token`);
      }
      await settle();
      const low = await alert('cache_hit_rate_low', instance);
      assert.equal(low?.state, 'firing');
      assert.equal(low?.severity, 'LOW');
      assert.match(low!.summary, /hit rate on instance .* is \d+ % over the last 15 min \(\d+ of \d+ requests served without a refresh\), below 70 %/);

      for (let index = 0; index < 40; index++) await h.api('GET', `/v1/connections/${id}/token`);
      h.clock.advance(31_000);
      await h.api('GET', `/v1/connections/${id}/token`);
      await settle();
      assert.equal((await alert('cache_hit_rate_low', instance))?.state, 'resolved');

      // An instance that went away stops re-raising its alert: the check resolves it.
      await h.tk.alerts.raise({ type: 'cache_hit_rate_low', key: 'gone-host:1:abcd', severity: 'LOW', labels: { instance: 'gone-host:1:abcd' }, summary: 'low' });
      h.clock.advance(6 * MIN);
      await h.tk.jobs.run('refresh');
      await checkRules();
      assert.equal((await alert('cache_hit_rate_low', 'gone-host:1:abcd'))?.state, 'resolved');
    });

    test('the periodic check raises what a lost event would have raised, and resolves what no longer holds', async () => {
      await start();
      const stuck = await h.connect('rules-lost', 'lost');
      const fine = await h.connect('rules-fine', 'fine');
      await h.tk.jobs.run('refresh');
      // A crash between the state change and its event: the row says needs_reauth, no event ran.
      await h.tk.database.db
        .updateTable('connections')
        .set({ status: 'needs_reauth', status_reason: 'the provider revoked the grant', status_changed_at: h.clock.now() })
        .where('id', '=', stuck)
        .execute();
      await h.tk.database.db.updateTable('integrations').set({ failing_since: h.clock.now(), failure_code: 'invalid_client', failure_message: 'bad secret' }).execute();
      // And an alert whose clearing event was lost: it fires, but the connection is fine.
      await h.tk.alerts.raise({ type: 'connection_needs_reauth', key: fine, severity: 'MEDIUM', labels: { integration: 'sandbox' }, summary: 'stale' });
      assert.equal((await alert('connection_needs_reauth', stuck)), null);

      h.clock.advance(1_000);
      await checkRules();
      const raised = await alert('connection_needs_reauth', stuck);
      assert.equal(raised?.state, 'firing');
      assert.match(raised!.summary, /needs re-authorization: the provider revoked the grant/);
      assert.equal((await alert('integration_failing', 'sandbox'))?.state, 'firing');
      assert.equal((await alert('connection_needs_reauth', fine))?.state, 'resolved');

      await h.tk.database.db.updateTable('integrations').set({ failing_since: null, failure_code: null, failure_message: null }).execute();
      await h.tk.database.db.updateTable('connections').set({ status: 'active', status_reason: null }).where('id', '=', stuck).execute();
      h.clock.advance(1_000);
      await checkRules();
      assert.equal((await alert('connection_needs_reauth', stuck))?.state, 'resolved');
      assert.equal((await alert('integration_failing', 'sandbox'))?.state, 'resolved');
    });

    test('an alert an event raises while the check is reading is not resolved by that check', async () => {
      await start();
      const id = await h.connect('rules-race', 'race');
      await h.tk.jobs.run('refresh');
      h.clock.advance(1_000);
      // The check starts (and reads the connection as active); the event's raise lands at the same instant.
      const checking = h.tk.jobs.run('alert-rules');
      await h.tk.alerts.raise({ type: 'connection_needs_reauth', key: id, severity: 'MEDIUM', labels: { integration: 'sandbox' }, summary: 'raised by an event' });
      await checking;
      assert.equal((await alert('connection_needs_reauth', id))?.state, 'firing', 'left to the next check');
      h.clock.advance(1_000);
      await checkRules();
      assert.equal((await alert('connection_needs_reauth', id))?.state, 'resolved', 'which reads the connection as it is');
    });

    test('TOKENKEEPER_SWEEP_INTERVAL=0 turns off the sweep only: the notify and alert-rules ticks still run', async () => {
      await start();
      assert.equal(h.config.sweepIntervalSeconds, 0);
      h.tk.startScheduler();
      const finished = async (name: string) => {
        const row = await h.tk.database.db.selectFrom('job_state').selectAll().where('name', '=', name).executeTakeFirst();
        return row?.last_finished_at !== null && row?.last_finished_at !== undefined;
      };
      await until(async () => (await finished('notify')) && (await finished('alert-rules')) && (await finished('cleanup')), 'the notify, alert-rules and cleanup ticks');
      assert.equal(await h.tk.database.db.selectFrom('job_state').selectAll().where('name', '=', 'refresh').executeTakeFirst(), undefined, 'no sweep tick');
    });
  });
}
