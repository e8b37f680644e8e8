/**
 * The proxy reads an integration's API base URL once per version of the integration (the parsed
 * base is kept per integration row, src/proxy/api-base-url.ts): a change of `settings.apiBaseUrl`
 * is used from the very next call, and an integration left without one is refused on every call
 * until it has one again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';
import { httpServer, type Closers } from './helpers/protocol-servers.ts';

let h: Harness;
let upstreamUrl: string;
let seen: () => string[];
const closers: Closers = [];

before(async () => {
  const upstream = await httpServer(closers, () => ({ status: 200, body: '{"ok":true}' }));
  upstreamUrl = upstream.url;
  seen = () => upstream.requests.map((request) => request.url);
  h = await startHarness();
});

after(async () => {
  await h?.close();
  for (const close of closers) await close();
});

test('a changed API base URL is used from the next call on', async () => {
  const settings = (apiBaseUrl?: string) => ({
    authorizationEndpoint: `${upstreamUrl}/authorize`,
    tokenEndpoint: `${upstreamUrl}/token`,
    ...(apiBaseUrl === undefined ? {} : { apiBaseUrl }),
  });
  const created = await h.api('POST', '/v1/integrations', { key: 'moving', provider: 'custom', client_id: 'c', client_secret: 's', settings: settings(`${upstreamUrl}/one`) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const imported = await h.api('POST', '/v1/connections', { integration: 'moving', owner_id: 'u-1', account_id: 'a-1', access_token: 'moving-token', expires_in: 3600 });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const id: string = imported.body.id;
  const patch = async (apiBaseUrl?: string) => {
    const updated = await h.api('PATCH', '/v1/integrations/moving', { settings: settings(apiBaseUrl) });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
  };

  assert.equal((await h.api('GET', `/v1/proxy/${id}/x`)).status, 200);
  assert.equal((await h.api('GET', `/v1/proxy/${id}/y?q=1`)).status, 200);
  await patch(`${upstreamUrl}/two`);
  assert.equal((await h.api('GET', `/v1/proxy/${id}/x`)).status, 200);
  await patch();
  for (let i = 0; i < 2; i++) {
    const refused = await h.api('GET', `/v1/proxy/${id}/x`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'proxy_not_configured');
  }
  await patch(`${upstreamUrl}/three/`);
  assert.equal((await h.api('GET', `/v1/proxy/${id}`)).status, 200);
  assert.deepEqual(seen(), ['/one/x', '/one/y?q=1', '/two/x', '/three']);
});
