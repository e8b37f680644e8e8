import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTokenkeeper } from '../src/service.ts';
import { findConnection } from '../src/store/index.ts';
import { CRON_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

for (const dialect of testDialects()) {
  describe(`scheduled jobs (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    const runSweep = async () => {
      const response = await h.http.app.inject({ method: 'POST', url: '/v1/cron/refresh', headers: { authorization: `Bearer ${CRON_SECRET}` } });
      assert.equal(response.statusCode, 200);
      return response.json() as { refreshed: number; checked: number; failed: number; needs_reauth: number };
    };

    test('the sweep mints the system connection by client credentials and keeps it fresh', async () => {
      assert.equal((await h.api('GET', '/v1/connections?kind=system')).body.data.length, 0);
      await runSweep();
      const systems = (await h.api('GET', '/v1/connections?kind=system')).body.data;
      assert.equal(systems.length, 1);
      assert.equal(systems[0].owner_id, null);
      const first = await h.api('GET', '/v1/integrations/sandbox/token?fallback=system');
      assert.equal(first.body.connection_id, systems[0].id);
      h.clock.advance(100_000);
      const report = await runSweep();
      assert.ok(report.refreshed >= 1);
      const second = await h.api('GET', '/v1/integrations/sandbox/token?fallback=system');
      assert.notEqual(second.body.access_token, first.body.access_token);
      const me = await fetch(`${h.sandbox.url}/api/me`, { headers: { authorization: `Bearer ${second.body.access_token}` } });
      assert.equal(me.status, 200);
      assert.equal((await h.api('GET', '/v1/connections?kind=system')).body.data.length, 1, 'still one system connection');
    });

    test('refresh tokens that die unused are exercised at half their idle limit', async () => {
      const id = await h.connect('idle-owner', 'idle');
      // Access tokens that never expire (as at some providers): only the idle rule refreshes them.
      await h.tk.database.db.updateTable('connections').set({ expires_at: null, issued_at: null }).where('id', '=', id).execute();
      h.tk.tokens.forget(id);
      const integration = await h.api('GET', '/v1/integrations/sandbox');
      const patched = await h.api('PATCH', '/v1/integrations/sandbox', { settings: { ...integration.body.settings, refreshTokenMaxIdleDays: 0.02 } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const before = (await findConnection(h.tk.database.db, id))!;
      await runSweep(); // not idle long enough yet
      assert.equal((await findConnection(h.tk.database.db, id))!.version, before.version);
      h.clock.advance(0.02 * 86_400_000 * 0.5 + 1_000);
      await runSweep();
      const after = (await findConnection(h.tk.database.db, id))!;
      assert.ok(after.lastRefreshAt! > before.lastRefreshAt!, 'the idle refresh token was used');
      await h.tk.events.settled();
      const events = (await h.api('GET', `/v1/connections/${id}/events`)).body.data;
      assert.ok(events.some((e: { type: string; data: { trigger: string } }) => e.type === 'token.refreshed' && e.data.trigger === 'idle'));
      const again = (await findConnection(h.tk.database.db, id))!;
      await runSweep();
      assert.equal((await findConnection(h.tk.database.db, id))!.version, again.version, 'not exercised again right away');
    });

    test('a timer tick runs once across two instances sharing the database', async () => {
      const other = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger });
      try {
        h.clock.advance(120_000);
        const [a, b] = await Promise.all([h.tk.jobs.tick('cleanup'), other.jobs.tick('cleanup')]);
        assert.equal([a, b].filter((report) => report !== null).length, 1);
        assert.equal(await h.tk.jobs.tick('cleanup'), null, 'the same interval is not run twice');
      } finally {
        await other.close();
      }
    });
  });
}
