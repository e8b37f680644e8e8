/**
 * A caller that leaves while its proxied call waits for a permit of the integration's outbound
 * limiter: when the permit comes, nothing may be sent, the call ends with
 * `proxy_upstream_unreachable`, and the process goes on serving. (It used to destroy a request
 * that had no 'error' listener yet, an unhandled 'error' event that ended the process; found by
 * `npm run bench -- --proxy`, whose load generator leaves with calls still waiting.)
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { isTokenkeeperError } from '../src/errors.ts';
import { startHarness, type Harness } from './helpers/harness.ts';

let h: Harness;
let upstreamUrl: string;
const seen: string[] = [];
let held: ServerResponse | null = null;
let heldArrived: () => void = () => undefined;
const upstream = createServer((request, response) => {
  seen.push(request.url!);
  // The first call is held open, keeping the integration's only slot busy.
  if (request.url === '/hold') {
    held = response;
    heldArrived();
    return;
  }
  response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});

before(async () => {
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  h = await startHarness();
});

after(async () => {
  await h?.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

test('a caller that left while waiting for the limiter: nothing sent, the process goes on', async () => {
  const created = await h.api('POST', '/v1/integrations', {
    key: 'one-at-a-time', provider: 'custom', client_id: 'c', client_secret: 's',
    settings: { authorizationEndpoint: `${upstreamUrl}/authorize`, tokenEndpoint: `${upstreamUrl}/token`, apiBaseUrl: upstreamUrl, rateLimit: { requestsPerMinute: 60, concurrency: 1 } },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const imported = await h.api('POST', '/v1/connections', { integration: 'one-at-a-time', owner_id: 'u-1', account_id: 'a-1', access_token: 'one-token', expires_in: 3600 });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const id: string = imported.body.id;

  const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
  const first = h.tk.proxy.fetch(id, '/hold');
  await arrived;
  const leaving = new AbortController();
  const second = h.tk.proxy.fetch(id, '/never', { signal: leaving.signal });
  // Let the second call reach the limiter and wait there, then its caller leaves.
  await new Promise((resolve) => setTimeout(resolve, 50));
  leaving.abort();
  held!.writeHead(200, { 'content-type': 'application/json' }).end('{"held":true}');
  assert.deepEqual(await (await first).json(), { held: true });

  await assert.rejects(second, (error) => isTokenkeeperError(error, 'proxy_upstream_unreachable'));
  const third = await h.tk.proxy.fetch(id, '/after');
  assert.equal(third.status, 200);
  await third.arrayBuffer();
  assert.deepEqual(seen, ['/hold', '/after']);
});
