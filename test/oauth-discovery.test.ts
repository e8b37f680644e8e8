/** Issuer discovery (OpenID Connect Discovery 1.0, RFC 8414) against a local HTTP server. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../src/clock.ts';
import { isTokenkeeperError, type TokenkeeperError } from '../src/errors.ts';
import { clearDiscoveryCache, DISCOVERY_TTL_MS, resolveProviderClient, type ResolveOptions } from '../src/oauth/index.ts';
import type { IntegrationSettings } from '../src/providers/index.ts';

let server: Server;
let base: string;
let hits: string[] = [];
let documents: Record<string, { status: number; body: unknown }> = {};

before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const doc = documents[req.url ?? ''] ?? { status: 404, body: { error: 'not_found' } };
    res.writeHead(doc.status, { 'content-type': 'application/json' });
    res.end(typeof doc.body === 'string' ? doc.body : JSON.stringify(doc.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  hits = [];
  documents = {};
  clearDiscoveryCache();
});

function metadata(issuer: string, overrides: Record<string, unknown> = {}) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    userinfo_endpoint: `${issuer}/me`,
    ...overrides,
  };
}

function resolveOidc(settings: IntegrationSettings, options: ResolveOptions = {}) {
  return resolveProviderClient(
    { key: 'idp', provider: 'oidc', clientId: 'c', clientSecret: 's', scopes: [], redirectUri: 'http://127.0.0.1/cb', settings },
    options,
  );
}

async function failure(promise: Promise<unknown>): Promise<TokenkeeperError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isTokenkeeperError(error), String(error));
    return error;
  }
  assert.fail('expected a failure');
}

describe('discovery', () => {
  it('reads OpenID Connect metadata and caches it per issuer for an hour', async () => {
    const issuer = `${base}/tenant-a`;
    documents['/tenant-a/.well-known/openid-configuration'] = { status: 200, body: metadata(issuer) };
    const clock = new ManualClock();
    const client = await resolveOidc({ issuer }, { clock });
    assert.deepEqual(client.endpoints, {
      issuer,
      authorization: `${issuer}/auth`,
      token: `${issuer}/token`,
      revocation: `${issuer}/revoke`,
      userinfo: `${issuer}/me`,
    });
    await resolveOidc({ issuer }, { clock });
    assert.equal(hits.length, 1);
    clock.advance(DISCOVERY_TTL_MS + 1);
    await resolveOidc({ issuer }, { clock });
    assert.equal(hits.length, 2);
  });

  it('shares one request between concurrent resolutions', async () => {
    const issuer = `${base}/shared`;
    documents['/shared/.well-known/openid-configuration'] = { status: 200, body: metadata(issuer) };
    await Promise.all([resolveOidc({ issuer }), resolveOidc({ issuer }), resolveOidc({ issuer })]);
    assert.equal(hits.length, 1);
  });

  it('falls back to RFC 8414 metadata', async () => {
    const issuer = `${base}/plain-oauth`;
    documents['/.well-known/oauth-authorization-server/plain-oauth'] = { status: 200, body: metadata(issuer, { userinfo_endpoint: undefined }) };
    const client = await resolveOidc({ issuer });
    assert.equal(client.endpoints.token, `${issuer}/token`);
    assert.equal(client.endpoints.userinfo, null);
    assert.deepEqual(hits, ['/plain-oauth/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/plain-oauth']);
  });

  it('lets settings override discovered endpoints', async () => {
    const issuer = `${base}/override`;
    documents['/override/.well-known/openid-configuration'] = { status: 200, body: metadata(issuer) };
    const client = await resolveOidc({ issuer, tokenEndpoint: `${base}/elsewhere/token` });
    assert.equal(client.endpoints.token, `${base}/elsewhere/token`);
    assert.equal(client.endpoints.authorization, `${issuer}/auth`);
  });

  it('a failure is provider_unavailable with details, and is not cached', async () => {
    const issuer = `${base}/flaky`;
    documents['/flaky/.well-known/openid-configuration'] = { status: 500, body: 'oops' };
    const error = await failure(resolveOidc({ issuer }));
    assert.equal(error.code, 'provider_unavailable');
    assert.equal(error.details?.issuer, issuer);
    assert.ok(Array.isArray(error.details?.problems));

    documents['/flaky/.well-known/openid-configuration'] = { status: 200, body: metadata(issuer) };
    assert.equal((await resolveOidc({ issuer })).endpoints.issuer, issuer);
  });

  it('refuses a document for another issuer (RFC 8414 §3.3)', async () => {
    const issuer = `${base}/victim`;
    documents['/victim/.well-known/openid-configuration'] = { status: 200, body: metadata('https://attacker.example') };
    assert.equal((await failure(resolveOidc({ issuer }))).code, 'provider_unavailable');
  });

  it('refuses metadata that sends tokens over plain http off this machine', async () => {
    const issuer = `${base}/downgrade`;
    documents['/downgrade/.well-known/openid-configuration'] = { status: 200, body: metadata(issuer, { token_endpoint: 'http://tokens.example.com/token' }) };
    const error = await failure(resolveOidc({ issuer }));
    assert.equal(error.code, 'provider_unavailable');
    assert.match(error.message, /token endpoint/);
  });

  it('an unreachable issuer is provider_unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    assert.equal((await failure(resolveOidc({ issuer: `http://127.0.0.1:${port}` }))).code, 'provider_unavailable');
  });

  it('invalid stored settings and unknown providers are refused before any request', async () => {
    assert.equal((await failure(resolveOidc({}))).code, 'invalid_request');
    const unknown = await failure(resolveProviderClient({ key: 'x', provider: 'nope', clientId: 'c', clientSecret: null, scopes: [], redirectUri: 'http://127.0.0.1/cb', settings: {} }));
    assert.equal(unknown.code, 'unknown_provider');
    assert.equal(hits.length, 0);
  });
});
