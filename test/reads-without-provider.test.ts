import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildHttpApp } from '../src/http/index.ts';
import { clearDiscoveryCache } from '../src/oauth/index.ts';
import { createTokenkeeper, type Tokenkeeper } from '../src/service.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

/**
 * Reading needs no provider: a process started while the provider is down still answers every
 * read of connections and integrations from the database alone.
 */
for (const dialect of testDialects()) {
  describe(`reads during a provider outage, after a restart (${dialect})`, () => {
    let h: Harness;
    let restarted: Tokenkeeper;
    let restartedHttp: Awaited<ReturnType<typeof buildHttpApp>>;
    let connectionId: string;

    async function get(url: string): Promise<{ status: number; body: any }> {
      const response = await restartedHttp.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${h.apiKey}` } });
      let body: unknown = response.body;
      try {
        body = JSON.parse(response.body);
      } catch {
        // the page is HTML
      }
      return { status: response.statusCode, body };
    }

    before(async () => {
      h = await startHarness({ dialect });
      connectionId = await h.connect('owner-outage', 'olga');
      // The provider goes away; a new process (same data dir) starts with nothing cached, the
      // discovery cache included (it is per process).
      await h.sandbox.close();
      clearDiscoveryCache();
      restarted = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger });
      restartedHttp = await buildHttpApp(restarted);
    });

    after(async () => {
      await restartedHttp.app.close();
      await restarted.close();
      await h.close();
    });

    test('GET /v1/connections/:id answers 200 with the integration and provider names', async () => {
      const response = await get(`/v1/connections/${connectionId}`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.integration, 'sandbox');
      assert.equal(response.body.provider, 'sandbox');
      assert.equal(response.body.status, 'active');
    });

    test('GET /v1/connections/:id/events answers 200 with the connection history', async () => {
      const response = await get(`/v1/connections/${connectionId}/events`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.ok(response.body.data.some((event: { type: string }) => event.type === 'connection.created'));
    });

    test('GET /v1/connections lists the connection with its integration and provider names', async () => {
      const response = await get('/v1/connections');
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const listed = response.body.data.find((connection: { id: string }) => connection.id === connectionId);
      assert.ok(listed, 'the connection is listed');
      assert.equal(listed.integration, 'sandbox');
      assert.equal(listed.provider, 'sandbox');
    });

    test('GET /v1/integrations/:key and the list answer 200', async () => {
      const one = await get('/v1/integrations/sandbox');
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assert.equal(one.body.key, 'sandbox');
      const all = await get('/v1/integrations');
      assert.equal(all.status, 200);
      assert.deepEqual(all.body.data.map((integration: { key: string }) => integration.key), ['sandbox']);
    });

    test('the page lists the integration and the connection', async () => {
      const page = await get('/');
      assert.equal(page.status, 200);
      assert.match(page.body, /data-integration="sandbox"/);
      assert.match(page.body, new RegExp(`data-connection-id="${connectionId}"`));
    });

    test('ConnectionService.get gives the integration without resolving it at the provider', async () => {
      const { record, integration } = await restarted.connections.get(connectionId);
      assert.equal(record.id, connectionId);
      assert.equal(integration.record.key, 'sandbox');
      assert.equal(integration.provider.key, 'sandbox');
      const events = await restarted.connections.events(connectionId);
      assert.ok(events.length > 0);
    });
  });
}
