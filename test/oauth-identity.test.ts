/**
 * Account identity and ID tokens for catalog providers, against a local HTTP server that
 * answers with each provider's response shapes.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../src/clock.ts';
import { isTokenkeeperError } from '../src/errors.ts';
import {
  classifyFailure, exchangeAuthorizationCode, fetchAccountIdentity, OAuthProviderError, resolveProviderClient,
  type ProviderClient, type TokenSet,
} from '../src/oauth/index.ts';
import type { IntegrationSettings } from '../src/providers/index.ts';

let server: Server;
let base: string;
let seen: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
let routes: Record<string, { status?: number; body: unknown }> = {};

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers });
      const route = routes[req.url ?? ''] ?? { status: 404, body: { message: 'Not Found' } };
      res.writeHead(route.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(route.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen = [];
  routes = {};
});

const clock = new ManualClock();

function clientFor(provider: string, settings: IntegrationSettings = {}): Promise<ProviderClient> {
  return resolveProviderClient(
    {
      key: provider, provider, clientId: 'app-1', clientSecret: 'secret', scopes: [], redirectUri: 'http://127.0.0.1/cb',
      settings: { authorizationEndpoint: `${base}/authorize`, tokenEndpoint: `${base}/token`, ...settings },
    },
    { clock },
  );
}

function tokens(extra: Record<string, unknown> = {}): TokenSet {
  return { accessToken: 'user-at', refreshToken: null, idToken: null, tokenType: 'Bearer', expiresAt: null, scopes: null, extra };
}

/** An unsigned-looking JWT: ID tokens from the token endpoint over TLS are validated by claims (OIDC Core §3.1.3.7). */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

async function exchange(client: ProviderClient, nonce?: string) {
  return exchangeAuthorizationCode(client, {
    callbackParameters: new URLSearchParams({ code: 'code-1', state: 'st' }),
    expectedState: 'st',
    codeVerifier: 'v'.repeat(43),
    nonce,
  });
}

describe('fetchAccountIdentity', () => {
  it('GitHub: the REST API user (id, login) with the bearer token', async () => {
    routes['/user'] = { body: { id: 583231, login: 'octocat', name: 'The Octocat', email: null } };
    const client = await clientFor('github', { userinfoEndpoint: `${base}/user` });
    assert.deepEqual(await fetchAccountIdentity(client, { tokens: tokens(), idTokenClaims: null }), { accountId: '583231', label: 'octocat' });
    assert.equal(seen[0].headers.authorization, 'Bearer user-at');
  });

  it('Slack: no userinfo, so team and user from the token response', async () => {
    const client = await clientFor('slack');
    const identity = await fetchAccountIdentity(client, { tokens: tokens({ team: { id: 'T9', name: 'Acme' }, authed_user: { id: 'U7' } }), idTokenClaims: null });
    assert.deepEqual(identity, { accountId: 'T9:U7', label: 'Acme' });
    assert.equal(seen.length, 0);
  });

  it('Salesforce: userinfo down → the identity URL from the token response', async () => {
    routes['/userinfo'] = { status: 503, body: { error: 'temporarily_unavailable' } };
    const client = await clientFor('salesforce', { userinfoEndpoint: `${base}/userinfo` });
    const identity = await fetchAccountIdentity(client, { tokens: tokens({ id: 'https://login.salesforce.com/id/00D1/0051', instance_url: 'https://acme.my.salesforce.com' }), idTokenClaims: null });
    assert.deepEqual(identity, { accountId: 'https://login.salesforce.com/id/00D1/0051', label: null });
  });

  it('a userinfo failure without a fallback is thrown (never a silent null that duplicates connections)', async () => {
    routes['/me'] = { status: 401, body: { error: 'invalid_token' } };
    const client = await clientFor('custom', { userinfoEndpoint: `${base}/me` });
    const error = await fetchAccountIdentity(client, { tokens: tokens(), idTokenClaims: null }).catch((caught: unknown) => caught);
    assert.ok(error instanceof OAuthProviderError);
    assert.equal(error.endpoint, 'userinfo');
    // RFC 6750's invalid_token is not a token-endpoint code: not a reason to ask for reconnection.
    assert.deepEqual([classifyFailure(error, client.provider).kind, classifyFailure(error, client.provider).code], ['transient', 'provider_error']);
  });

  it('no ID token, no userinfo, no quirk → null', async () => {
    const client = await clientFor('custom');
    assert.equal(await fetchAccountIdentity(client, { tokens: tokens(), idTokenClaims: null }), null);
  });

  it('the ID token wins; userinfo only supplies a label when its sub matches', async () => {
    routes['/me'] = { body: { sub: 'someone-else', email: 'other@example.com' } };
    const client = await clientFor('custom', { userinfoEndpoint: `${base}/me` });
    assert.deepEqual(await fetchAccountIdentity(client, { tokens: tokens(), idTokenClaims: { sub: 'u-1' } }), { accountId: 'u-1', label: null });
    routes['/me'] = { body: { sub: 'u-1', email: 'u1@example.com' } };
    assert.deepEqual(await fetchAccountIdentity(client, { tokens: tokens(), idTokenClaims: { sub: 'u-1' } }), { accountId: 'u-1', label: 'u1@example.com' });
  });
});

describe('ID tokens from catalog providers', () => {
  const now = () => Math.floor(clock.now() / 1000);
  const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

  it('Microsoft multi-tenant: validated against the issuer of the user tenant', async () => {
    routes['/token'] = {
      body: {
        access_token: 'ms-at', token_type: 'Bearer', expires_in: 3599, refresh_token: 'ms-rt',
        id_token: jwt({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, tid: TENANT, aud: 'app-1', sub: 'ms-sub', iat: now(), exp: now() + 3600, nonce: 'n-1', email: 'a@contoso.com' }),
      },
    };
    const client = await clientFor('microsoft');
    const result = await exchange(client, 'n-1');
    assert.equal(result.idTokenClaims?.sub, 'ms-sub');
    assert.deepEqual(await fetchAccountIdentity(client, result), { accountId: 'ms-sub', label: 'a@contoso.com' });
  });

  it('Microsoft: an ID token for another audience or with a wrong nonce is refused', async () => {
    const client = await clientFor('microsoft');
    routes['/token'] = {
      body: { access_token: 'ms-at', token_type: 'Bearer', id_token: jwt({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, tid: TENANT, aud: 'other-app', sub: 's', iat: now(), exp: now() + 3600 }) },
    };
    assert.ok(isTokenkeeperError(await exchange(client).catch((error: unknown) => error), 'invalid_provider_response'));
    routes['/token'] = {
      body: { access_token: 'ms-at', token_type: 'Bearer', id_token: jwt({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, tid: TENANT, aud: 'app-1', sub: 's', iat: now(), exp: now() + 3600, nonce: 'evil' }) },
    };
    assert.ok(isTokenkeeperError(await exchange(client, 'n-1').catch((error: unknown) => error), 'invalid_provider_response'));
  });

  it('Google: either spelling of its issuer; any other is refused', async () => {
    const client = await clientFor('google');
    for (const iss of ['https://accounts.google.com', 'accounts.google.com']) {
      routes['/token'] = { body: { access_token: 'g-at', token_type: 'Bearer', expires_in: 3599, id_token: jwt({ iss, aud: 'app-1', sub: 'g-sub', iat: now(), exp: now() + 3600 }) } };
      assert.equal((await exchange(client)).idTokenClaims?.sub, 'g-sub');
    }
    routes['/token'] = { body: { access_token: 'g-at', token_type: 'Bearer', id_token: jwt({ iss: 'https://evil.example', aud: 'app-1', sub: 'x', iat: now(), exp: now() + 3600 }) } };
    assert.ok(isTokenkeeperError(await exchange(client).catch((error: unknown) => error), 'invalid_provider_response'));
  });

  it('an expired ID token is refused, judged by the injected clock', async () => {
    const client = await clientFor('google');
    routes['/token'] = { body: { access_token: 'g-at', token_type: 'Bearer', id_token: jwt({ iss: 'https://accounts.google.com', aud: 'app-1', sub: 'g', iat: now() - 7200, exp: now() - 3600 }) } };
    assert.ok(isTokenkeeperError(await exchange(client).catch((error: unknown) => error), 'invalid_provider_response'));
  });

  it('custom without an issuer: the ID token is kept but its claims are not trusted', async () => {
    routes['/token'] = { body: { access_token: 'c-at', token_type: 'bearer', id_token: jwt({ iss: 'https://whoever', aud: 'app-1', sub: 'c', iat: now(), exp: now() + 60 }) } };
    const result = await exchange(await clientFor('custom'));
    assert.equal(result.idTokenClaims, null);
    assert.ok(result.tokens.idToken);
  });
});
