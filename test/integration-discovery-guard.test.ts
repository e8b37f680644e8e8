import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TokenkeeperError } from '../src/errors.ts';
import type { EventMap } from '../src/events.ts';
import { IntegrationService } from '../src/integrations/index.ts';
import { clearDiscoveryCache } from '../src/oauth/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Discovery is an outbound call like any other: it goes through the integration's guard (rate
 * limiter and circuit breaker, supplied by tokens/), and its failures are reported and counted.
 */
for (const dialect of testDialects()) {
  describe(`discovery goes through the guard and its failures are counted (${dialect})`, () => {
    let h: Harness;
    let integrationId: string;
    const guarded: string[] = [];
    let refuse = false;
    let service: IntegrationService;

    /** An IntegrationService of its own (no resolved-integration cache yet) whose guard records each call. */
    const guardedService = (): IntegrationService =>
      new IntegrationService({
        db: h.tk.database.db,
        keyRing: h.tk.keyRing,
        clock: h.clock,
        events: h.tk.events,
        callbackUrl: h.config.callbackUrl,
        defaultRefreshBufferSeconds: h.config.refreshBufferSeconds,
        requestTimeoutMs: 2_000,
        guard: async (id, call) => {
          guarded.push(id);
          if (refuse) throw new TokenkeeperError('circuit_open');
          return call();
        },
      });

    before(async () => {
      h = await startHarness({ dialect });
      integrationId = (await h.tk.integrations.getByKey('sandbox')).id;
      service = guardedService();
    });

    after(() => h.close());

    test('resolving a discovery provider calls the guard with the integration id', async () => {
      clearDiscoveryCache();
      const resolved = await service.resolveById(integrationId);
      assert.equal(resolved.client.endpoints.issuer, h.sandbox.issuer);
      assert.deepEqual(guarded, [integrationId]);
    });

    test('a discovery already cached sends nothing, so it does not pass the guard (no rate-limit token, no probe)', async () => {
      // Fresh services have no resolved-integration cache of their own: only the discovery is shared.
      clearDiscoveryCache();
      guarded.length = 0;
      await guardedService().resolveById(integrationId);
      assert.deepEqual(guarded, [integrationId], 'the discovery request went through the guard');
      const resolved = await guardedService().resolveById(integrationId);
      assert.equal(resolved.client.endpoints.issuer, h.sandbox.issuer);
      assert.deepEqual(guarded, [integrationId], 'the resolution that sent nothing was not guarded');
    });

    test('an open guard stops the resolution before any request', async () => {
      const failures: EventMap['integration.discovery_failed'][] = [];
      const off = h.tk.events.on('integration.discovery_failed', (payload) => void failures.push(payload));
      try {
        clearDiscoveryCache();
        service.invalidate();
        refuse = true;
        await assert.rejects(service.resolveById(integrationId), { code: 'circuit_open' });
        assert.equal(failures.length, 0, 'nothing was sent, so discovery did not fail');
      } finally {
        refuse = false;
        off();
      }
    });

    test('reading the record never goes through the guard nor the provider', async () => {
      guarded.length = 0;
      service.invalidate();
      const view = await service.recordById(integrationId);
      assert.equal(view.record.key, 'sandbox');
      assert.deepEqual(guarded, []);
    });

    test('a failed discovery emits integration.discovery_failed and is counted in /metrics', async () => {
      const failures: EventMap['integration.discovery_failed'][] = [];
      const off = h.tk.events.on('integration.discovery_failed', (payload) => void failures.push(payload));
      try {
        await h.tk.integrations.update('sandbox', { settings: { issuer: `http://127.0.0.1:${await deadPort()}` } });
        await assert.rejects(h.tk.integrations.resolveById(integrationId), { code: 'provider_unavailable' });
        assert.equal(failures.length, 1);
        assert.equal(failures[0]!.integrationKey, 'sandbox');
        assert.equal(failures[0]!.provider, 'sandbox');
        assert.match(failures[0]!.reason, /Discovery failed/);
        const metrics = await h.http.app.inject({ method: 'GET', url: '/metrics' });
        assert.match(metrics.body, /tokenkeeper_discovery_failures_total\{integration="sandbox",provider="sandbox"\} 1/);
      } finally {
        off();
        await h.tk.integrations.update('sandbox', { settings: { issuer: h.sandbox.issuer } });
      }
    });
  });
}
