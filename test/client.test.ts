import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createClient, type TokenkeeperClient } from '../src/client/index.ts';
import { newId } from '../src/ids.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { rejection } from './helpers/api-rejection.ts';

// The typed client against a real Tokenkeeper listening on a real port, with a real sandbox
// connection behind it: what a user's application sees through `tokenkeeper/client`.


for (const dialect of testDialects()) {
  describe(`the typed HTTP client against a running server (${dialect})`, () => {
    let h: Harness;
    let url: string;
    let client: TokenkeeperClient;
    let connectionId: string;

    before(async () => {
      h = await startHarness({ dialect });
      url = await h.http.app.listen({ port: 0, host: '127.0.0.1' });
      client = createClient({ url, apiKey: h.apiKey });
      connectionId = await h.connect('alice');
    });

    after(async () => h.close());

    test('getToken returns the token the API serves, valid for at least minValidity', async () => {
      const token = await client.getToken(connectionId, { minValidity: 60 });
      assert.equal(token.connection_id, connectionId);
      assert.equal(token.token_type, 'Bearer');
      assert.ok(token.expires_in !== null && token.expires_in >= 60);
      const direct = await h.api('GET', `/v1/connections/${connectionId}/token`);
      assert.equal(token.access_token, direct.body.access_token);
    });

    test('an unknown connection is a TokenkeeperApiError: 404 connection_not_found with the API message', async () => {
      const error = await rejection(client.getToken(newId('con')));
      assert.equal(error.status, 404);
      assert.equal(error.code, 'connection_not_found');
      assert.match(error.message, /^No connection "con_\w+"\.$/);
      assert.equal(error.name, 'TokenkeeperApiError');
      assert.equal(error.retryAfter, null);
    });

    test('an id or key "." or ".." is refused as invalid_id before sending, never another route', async () => {
      // URL parsing resolves dot segments even percent-encoded: `v1/integrations/%2E` would be `v1/integrations/`.
      for (const call of [() => client.getIntegration('.'), () => client.getConnection('..'), () => client.deleteConnection('..'), () => client.getToken('.')]) {
        const error = await rejection(call());
        assert.equal(error.status, 400);
        assert.equal(error.code, 'invalid_id');
        assert.equal(error.requestId, null, 'nothing was sent');
      }
      assert.equal((await client.getConnection(connectionId)).id, connectionId);
    });

    test('a wrong API key is a 401 unauthorized', async () => {
      const error = await rejection(createClient({ url, apiKey: 'tk_wrong' }).listConnections());
      assert.equal(error.status, 401);
      assert.equal(error.code, 'unauthorized');
    });

    test('a provider asking to wait: 503 provider_unavailable with retryAfter in seconds', async () => {
      const id = await h.connect('bob');
      h.sandbox.setFaults({ errorRate429: 1, retryAfterSeconds: 120 });
      try {
        const error = await rejection(client.refresh(id));
        assert.equal(error.status, 503);
        assert.equal(error.code, 'provider_unavailable');
        assert.equal(error.retryAfter, 120);
      } finally {
        h.sandbox.resetFaults();
      }
    });

    test('an invalid body is a 400 invalid_request whose details list every problem', async () => {
      // Deliberately wrong at run time (as from untyped JSON): the server's answer is what counts.
      const error = await rejection(client.createConnectSession({ integration: '', kind: 'robot' } as never));
      assert.equal(error.status, 400);
      assert.equal(error.code, 'invalid_request');
      assert.ok(Array.isArray(error.details?.problems) && error.details.problems.length >= 2, JSON.stringify(error.details));
    });

    test('connections: list with filters, get, events, token for an owner, import, delete', async () => {
      const listed = await client.listConnections({ integration: 'sandbox', ownerId: 'alice' });
      assert.deepEqual(listed.data.map((connection) => connection.id), [connectionId]);
      assert.equal(listed.next, null);
      assert.equal((await client.listConnections({ ownerId: 'nobody' })).data.length, 0);

      const connection = await client.getConnection(connectionId);
      assert.equal(connection.owner_id, 'alice');
      assert.equal(connection.integration, 'sandbox');
      assert.equal(connection.status, 'active');

      const events = await client.listEvents(connectionId, { limit: 10 });
      assert.ok(events.data.some((event) => event.type === 'connection.created'), JSON.stringify(events.data.map((event) => event.type)));

      const owner = await client.getTokenForOwner('sandbox', { ownerId: 'alice', minValidity: 30 });
      assert.equal(owner.source, 'owner');
      assert.equal(owner.connection_id, connectionId);

      const imported = await client.importConnection({ integration: 'sandbox', owner_id: 'carol', access_token: 'imported-access', expires_in: 3_600, metadata: { plan: 'pro' } });
      assert.equal(imported.owner_id, 'carol');
      assert.deepEqual(imported.metadata, { plan: 'pro' });
      assert.equal((await client.getToken(imported.id)).access_token, 'imported-access');

      // One connection per page: every page is followed, each connection seen once.
      const followed: string[] = [];
      for await (const each of client.allConnections({ pageSize: 1 })) followed.push(each.id);
      const all = (await client.listConnections({ limit: 500 })).data.map((each) => each.id);
      assert.ok(all.length >= 3);
      assert.deepEqual(followed.toSorted(), all.toSorted());

      const deleted = await client.deleteConnection(imported.id);
      assert.equal(deleted.deleted, true);
      assert.equal((await rejection(client.getConnection(imported.id))).code, 'connection_not_found');
    });

    test('integrations: create, get, list, update, delete; connect sessions', async () => {
      const created = await client.createIntegration({
        key: 'acme',
        provider: 'custom',
        client_id: 'acme-client',
        client_secret: 'acme-secret',
        settings: { authorizationEndpoint: 'https://acme.test/a', tokenEndpoint: 'https://acme.test/t' },
      });
      assert.equal(created.key, 'acme');
      assert.equal(created.has_client_secret, true);
      assert.ok(!JSON.stringify(created).includes('acme-secret'));
      assert.deepEqual((await client.listIntegrations()).data.map((integration) => integration.key).toSorted(), ['acme', 'sandbox']);

      const updated = await client.updateIntegration('acme', { display_name: 'Acme', enabled: false });
      assert.equal(updated.display_name, 'Acme');
      assert.equal(updated.status, 'disabled');
      assert.equal((await client.getIntegration('acme')).enabled, false);

      const session = await client.createConnectSession({ integration: 'sandbox', owner_id: 'dave', redirect_to: 'http://app.test/done' });
      assert.equal(session.owner_id, 'dave');
      assert.match(session.connect_url, /\/connect\//);

      assert.equal(await client.deleteIntegration('acme'), undefined);
      assert.equal((await rejection(client.getIntegration('acme'))).code, 'integration_not_found');
    });

    test('API keys: create (shown once), list, revoke; a revoked key is refused at once', async () => {
      const created = await client.createApiKey('ci');
      assert.match(created.key, /\S{20,}/);
      assert.ok((await client.listApiKeys()).data.some((key) => key.id === created.id && key.name === 'ci'));
      const second = createClient({ url, apiKey: created.key });
      assert.ok(Array.isArray((await second.listIntegrations()).data));
      const revoked = await client.revokeApiKey(created.id);
      assert.ok(revoked.revoked_at !== null);
      assert.equal((await rejection(second.listIntegrations())).status, 401);
    });
  });
}

describe('answers that did not come from Tokenkeeper itself', () => {
  // A stand-in for what sits in front of a deployment (a proxy, a gateway): real HTTP, fixed answers.
  let gateway: Server;
  let gatewayUrl: string;
  const paths: string[] = [];
  before(async () => {
    gateway = createServer((request, response) => {
      paths.push(request.url!);
      if (request.url!.includes('/con_html/')) {
        response.writeHead(502, { 'content-type': 'text/html', 'x-request-id': 'gw-502' });
        response.end('<html><body>Bad Gateway</body></html>');
      } else {
        // Retry-After as an HTTP-date (RFC 9110 §10.2.3), about 30 s ahead.
        response.writeHead(503, { 'content-type': 'application/json', 'x-request-id': 'gw-503', 'retry-after': new Date(Date.now() + 30_000).toUTCString() });
        response.end(JSON.stringify({ error: { code: 'storage_unavailable', message: 'The database is not answering.' } }));
      }
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    // A path prefix, as behind a proxy that mounts Tokenkeeper under /tokenkeeper.
    gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/tokenkeeper`;
  });
  after(async () => new Promise((resolve) => gateway.close(resolve)));

  test('a non-JSON error page is a TokenkeeperApiError with the status, code unexpected_response and the request id', async () => {
    const error = await rejection(createClient({ url: gatewayUrl, apiKey: 'k' }).getToken('con_html'));
    assert.equal(error.status, 502);
    assert.equal(error.code, 'unexpected_response');
    assert.equal(error.requestId, 'gw-502');
    assert.equal(paths.at(-1), '/tokenkeeper/v1/connections/con_html/token', 'the proxy prefix is kept');
  });

  test('Retry-After as an HTTP date becomes seconds; x-request-id is kept', async () => {
    const error = await rejection(createClient({ url: gatewayUrl, apiKey: 'k' }).getToken('con_other'));
    assert.equal(error.code, 'storage_unavailable');
    assert.equal(error.requestId, 'gw-503');
    assert.ok(error.retryAfter !== null && error.retryAfter >= 25 && error.retryAfter <= 31, String(error.retryAfter));
  });
});

test('the client loads nothing outside src/client at run time (zero dependencies)', async () => {
  // Module hooks in a child process record every module the client's entry point loads.
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); loaded.push(result.url); return result; } });
    await import(${JSON.stringify(new URL('../src/client/index.ts', import.meta.url).href)});
    console.log(JSON.stringify(loaded));
  `;
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], (error, out, stderr) => (error ? reject(new Error(stderr)) : resolve(out))),
  );
  const loaded = JSON.parse(stdout) as string[];
  const clientDir = new URL('../src/client/', import.meta.url).href;
  assert.ok(loaded.length > 0);
  assert.deepEqual(loaded.filter((moduleUrl) => !moduleUrl.startsWith(clientDir)), []);
});
