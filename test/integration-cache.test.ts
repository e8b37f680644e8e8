import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SANDBOX_DEFAULT_CLIENT } from '../src/sandbox/index.ts';
import { createTokenkeeper, type Tokenkeeper } from '../src/service.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

for (const dialect of testDialects()) {
  /**
   * Two Tokenkeeper instances on one SQLite file stand for two processes. A change made through
   * one is seen by itself at once and by the other within a second (driven by the shared manual
   * clock, never by sleeping).
   */
  describe(`integration caches are coherent across processes (${dialect})`, () => {
    let h: Harness;
    let a: Tokenkeeper;
    let b: Tokenkeeper;
    let id: string;

    before(async () => {
      h = await startHarness({ dialect });
      a = h.tk;
      b = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger });
      id = (await a.integrations.getByKey('sandbox')).id;
    });

    after(async () => {
      await b.close();
      await h.close();
    });

    test('disabling the integration and changing its secret in A reaches B within a second', async () => {
      // B has both caches warm.
      assert.equal((await b.integrations.recordById(id)).record.enabled, true);
      assert.equal((await b.integrations.resolveById(id)).client.clientSecret, SANDBOX_DEFAULT_CLIENT.client_secret);

      await a.integrations.update('sandbox', { enabled: false, client_secret: 'changed-in-a' });

      // The process that made the change sees it at once.
      assert.equal((await a.integrations.recordById(id)).record.enabled, false);
      assert.equal((await a.integrations.resolveById(id)).client.clientSecret, 'changed-in-a');

      h.clock.advance(1_001);
      assert.equal((await b.integrations.recordById(id)).record.enabled, false);
      const resolved = await b.integrations.resolveById(id);
      assert.equal(resolved.record.enabled, false);
      assert.equal(resolved.client.clientSecret, 'changed-in-a');
    });

    test('two changes in the same millisecond are both seen', async () => {
      await b.integrations.recordById(id);
      await a.integrations.update('sandbox', { display_name: 'first' });
      h.clock.advance(1_001);
      assert.equal((await b.integrations.recordById(id)).record.displayName, 'first');
      // No clock movement between B's check and A's next change.
      await a.integrations.update('sandbox', { display_name: 'second' });
      h.clock.advance(1_001);
      assert.equal((await b.integrations.recordById(id)).record.displayName, 'second');
      assert.equal((await b.integrations.resolveById(id)).record.displayName, 'second');
    });

    test('an integration marked failing in A is failing in B within a second, and cleared the same way', async () => {
      await b.integrations.recordById(id);
      await b.integrations.resolveById(id);
      await a.integrations.markFailing(id, { code: 'invalid_client', message: 'client authentication failed' });
      h.clock.advance(1_001);
      assert.equal((await b.integrations.recordById(id)).record.failureCode, 'invalid_client');
      assert.equal((await b.integrations.resolveById(id)).record.failureCode, 'invalid_client');

      await a.integrations.update('sandbox', { enabled: true, client_secret: SANDBOX_DEFAULT_CLIENT.client_secret });
      h.clock.advance(1_001);
      const view = await b.integrations.recordById(id);
      assert.equal(view.record.failureCode, null);
      assert.equal(view.record.enabled, true);
      assert.equal((await b.integrations.resolveById(id)).client.clientSecret, SANDBOX_DEFAULT_CLIENT.client_secret);
    });

    test('concurrent readers of an expired entry all get the current row', async () => {
      await b.integrations.recordById(id);
      await a.integrations.update('sandbox', { display_name: 'concurrent' });
      h.clock.advance(1_001);
      const views = await Promise.all(Array.from({ length: 20 }, () => b.integrations.recordById(id)));
      assert.deepEqual(new Set(views.map((view) => view.record.displayName)), new Set(['concurrent']));
      const resolved = await Promise.all(Array.from({ length: 20 }, () => b.integrations.resolveById(id)));
      assert.equal(new Set(resolved.map((entry) => entry.client)).size, 1, 'one resolution shared by all');
      assert.equal(resolved[0]!.record.displayName, 'concurrent');
    });

    test('an integration deleted in A is gone in B within a second', async () => {
      const created = await a.integrations.create({
        key: 'short-lived',
        provider: 'custom',
        client_id: 'c',
        settings: { authorizationEndpoint: 'https://auth.example.com/authorize', tokenEndpoint: 'https://auth.example.com/token' },
      });
      assert.equal((await b.integrations.recordById(created.id)).record.key, 'short-lived');
      assert.equal((await b.integrations.resolveById(created.id)).record.key, 'short-lived');
      await a.integrations.remove('short-lived', { force: false });
      await assert.rejects(a.integrations.recordById(created.id), { code: 'integration_not_found' });
      h.clock.advance(1_001);
      await assert.rejects(b.integrations.recordById(created.id), { code: 'integration_not_found' });
      await assert.rejects(b.integrations.resolveById(created.id), { code: 'integration_not_found' });
    });
  });
}
