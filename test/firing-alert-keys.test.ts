import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { AlertService, CONNECTION_REFRESH_FAILING, DEFAULT_ALERT_POLICY, FiringAlertKeys, TOKEN_EXPIRED_WHILE_ACTIVE, type RaiseAlert } from '../src/alerts/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

/**
 * A refresh resolves the connection's failure alerts (`connection_refresh_failing`,
 * `token_expired_while_active`) without reading the alert table when the instance's view of the
 * firing ones rules them out. What the view must never do is keep an alert firing that a refresh
 * here should have resolved at once, beyond what the docs allow: a raise by another instance, up
 * to a second old, is left to the next check. Real refreshes through the sandbox, on the manual clock.
 */

const failing = (key: string): RaiseAlert => ({ type: CONNECTION_REFRESH_FAILING, key, severity: 'MEDIUM', labels: { integration: 'sandbox' }, summary: 'refreshes failing' });

for (const dialect of testDialects()) {
  describe(`the firing failure alerts a refresh resolves (${dialect})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });

    const state = async (key: string): Promise<string | undefined> => (await h!.tk.alerts.get(CONNECTION_REFRESH_FAILING, key))?.state;
    const refresh = async (id: string): Promise<void> => {
      assert.equal(await h!.tk.tokens.refreshIfDue(id, 'sweep'), 'refreshed');
      await h!.tk.events.settled();
    };

    test('raised here: resolved by the refresh at once; raised by another instance: at once past a second, else by the next check', async () => {
      h = await startHarness({ dialect });
      const local = await h.connect('view-local', 'viewLocal');
      const recent = await h.connect('view-recent', 'viewRecent');
      const older = await h.connect('view-older', 'viewOlder');
      await h.tk.events.settled();
      h.clock.advance(100_000); // 20 s left of 120 s: due
      await h.tk.alertRules.firingFailures.read(); // nothing firing, as of now
      // Another instance on the same database (its `alert-rules` check raised them).
      const elsewhere = new AlertService({ db: h.tk.database.db, clock: h.clock, policy: DEFAULT_ALERT_POLICY });
      await elsewhere.raise(failing(recent));
      await elsewhere.raise(failing(older));
      await h.tk.alerts.raise(failing(local));

      await refresh(local);
      assert.equal(await state(local), 'resolved', 'a raise on this instance is known at once');
      await refresh(recent);
      assert.equal(await state(recent), 'firing', 'another instance’s raise within the second is not seen yet');
      h.clock.advance(1_000);
      await refresh(older);
      assert.equal(await state(older), 'resolved', 'a second later this instance reads the table again');

      await h.tk.jobs.run('alert-rules');
      assert.equal(await state(recent), 'resolved', 'the next check resolves what the refresh left firing');
    });

    test('a read that overlaps a raise here, or finds more firing alerts than it keeps, rules nothing out until the next read', async () => {
      h = await startHarness({ dialect });
      const view = new FiringAlertKeys({ db: h.tk.database.db, clock: h.clock, types: [CONNECTION_REFRESH_FAILING, TOKEN_EXPIRED_WHILE_ACTIVE], maxAgeMs: 1_000, maxKeys: 3 });
      assert.equal(await view.mayFire('con_a'), false, 'nothing firing');

      // A raise under way when the read begins may commit after the read's snapshot.
      h.clock.advance(1_000);
      const ended = view.raising({ type: CONNECTION_REFRESH_FAILING, key: 'con_raised' });
      await view.read();
      ended?.();
      assert.equal(await view.mayFire('con_a'), true);
      h.clock.advance(1_000);
      assert.equal(await view.mayFire('con_a'), false, 'the next read, with no raise under way, is trusted');
      assert.equal(view.raising({ type: 'integration_failing', key: 'sandbox' }), undefined, 'other types are not its business');

      for (const key of ['con_1', 'con_2', 'con_3']) await h.tk.alerts.raise(failing(key));
      h.clock.advance(1_000);
      assert.equal(await view.mayFire('con_a'), false, 'three firing: kept');
      assert.equal(await view.mayFire('con_2'), true);
      await h.tk.alerts.raise({ ...failing('con_4'), type: TOKEN_EXPIRED_WHILE_ACTIVE, severity: 'HIGH' });
      h.clock.advance(1_000);
      assert.equal(await view.mayFire('con_a'), true, 'four firing: more than it keeps');
    });
  });
}
