/**
 * The OAuth protocol module end to end against the sandbox provider (oidc-provider) over real
 * HTTP: discovery, authorization URL with PKCE, login and consent, code exchange, identity from
 * the ID token, refresh with rotation, reuse detection, client credentials, revocation, faults.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../src/clock.ts';
import { isTokenkeeperError } from '../src/errors.ts';
import {
  buildAuthorizationUrl, classifyFailure, clearDiscoveryCache, createPkce, exchangeAuthorizationCode, fetchAccountIdentity, MAX_RETRY_AFTER_MS,
  OAuthProviderError, refreshAccessToken, requestClientCredentials, resolveProviderClient, revokeToken, salvagedRefreshToken,
  type ProviderClient, type ResolveOptions,
} from '../src/oauth/index.ts';
import { SANDBOX_DEFAULT_CLIENT, startSandbox, type SandboxServer } from '../src/sandbox/index.ts';
import { completeSandboxLogin } from './helpers/sandbox-login.ts';

const REDIRECT_URI = 'http://127.0.0.1:3170/oauth/callback';

let sandbox: SandboxServer;

before(async () => {
  sandbox = await startSandbox();
});
after(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.resetFaults();
});

function resolve(options: ResolveOptions = {}, settings: Record<string, string> = {}): Promise<ProviderClient> {
  return resolveProviderClient(
    {
      key: 'sandbox',
      provider: 'sandbox',
      clientId: SANDBOX_DEFAULT_CLIENT.client_id,
      clientSecret: SANDBOX_DEFAULT_CLIENT.client_secret,
      scopes: [],
      redirectUri: REDIRECT_URI,
      settings: { issuer: sandbox.issuer, ...settings },
    },
    options,
  );
}

/** Runs the whole connect flow for `username` and returns the exchange result. */
async function connect(client: ProviderClient, username: string, clock?: ManualClock) {
  const pkce = await createPkce();
  const state = `state-${username}`;
  const nonce = `nonce-${username}`;
  const url = buildAuthorizationUrl(client, { state, codeChallenge: pkce.challenge, nonce });
  const redirect = await completeSandboxLogin(url, { username });
  return exchangeAuthorizationCode(client, {
    callbackParameters: redirect.searchParams,
    expectedState: state,
    codeVerifier: pkce.verifier,
    nonce,
    clock,
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a failure');
}

describe('sandbox end to end', () => {
  it('discovers the endpoints from the issuer, once per issuer', async () => {
    clearDiscoveryCache();
    const discoveryRequests: string[] = [];
    const countingFetch: typeof fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes('/.well-known/')) discoveryRequests.push(url);
      return fetch(input, init);
    };
    const client = await resolve({ fetch: countingFetch });
    assert.equal(client.endpoints.issuer, sandbox.issuer);
    assert.ok(client.endpoints.authorization.startsWith(sandbox.issuer));
    assert.ok(client.endpoints.token.startsWith(sandbox.issuer));
    assert.ok(client.endpoints.revocation?.startsWith(sandbox.issuer));
    assert.ok(client.endpoints.userinfo?.startsWith(sandbox.issuer));
    await resolve({ fetch: countingFetch });
    assert.deepEqual(discoveryRequests, [`${sandbox.issuer}/.well-known/openid-configuration`]);
  });

  it('builds an authorization URL with PKCE S256, state, nonce and the default scopes', async () => {
    const client = await resolve();
    const pkce = await createPkce();
    assert.match(pkce.verifier, /^[A-Za-z0-9_-]{43,128}$/);
    assert.equal(pkce.method, 'S256');
    const url = buildAuthorizationUrl(client, { state: 's1', codeChallenge: pkce.challenge, nonce: 'n1' });
    assert.equal(url.origin + url.pathname, client.endpoints.authorization);
    assert.equal(url.searchParams.get('response_type'), 'code');
    assert.equal(url.searchParams.get('client_id'), 'tokenkeeper-dev');
    assert.equal(url.searchParams.get('redirect_uri'), REDIRECT_URI);
    assert.equal(url.searchParams.get('scope'), 'openid email profile offline_access api');
    assert.equal(url.searchParams.get('state'), 's1');
    assert.equal(url.searchParams.get('nonce'), 'n1');
    assert.equal(url.searchParams.get('code_challenge'), pkce.challenge);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  });

  it('connects an account: code exchange, ID token identity, then refresh with rotation', async () => {
    const clock = new ManualClock();
    const client = await resolve({ clock });
    const result = await connect(client, 'alice', clock);
    assert.ok(result.tokens.accessToken.length > 10);
    assert.ok(result.tokens.refreshToken);
    assert.ok(result.tokens.idToken);
    assert.equal(result.tokens.tokenType, 'Bearer');
    assert.equal(result.tokens.expiresAt, clock.now() + 120_000);
    assert.ok(result.tokens.scopes?.includes('openid'));
    assert.equal(result.idTokenClaims?.sub, 'alice');
    assert.equal(result.idTokenClaims?.nonce, 'nonce-alice');

    assert.deepEqual(await fetchAccountIdentity(client, result), { accountId: 'alice', label: 'alice@sandbox.test' });
    // Without the ID token, userinfo answers the same.
    assert.deepEqual(await fetchAccountIdentity(client, { tokens: result.tokens, idTokenClaims: null }), {
      accountId: 'alice',
      label: 'alice@sandbox.test',
    });

    clock.advance(60_000);
    const refreshed = await refreshAccessToken(client, result.tokens.refreshToken!);
    assert.notEqual(refreshed.accessToken, result.tokens.accessToken);
    assert.ok(refreshed.refreshToken);
    assert.notEqual(refreshed.refreshToken, result.tokens.refreshToken, 'the sandbox rotates refresh tokens');
    assert.equal(refreshed.expiresAt, clock.now() + 120_000);

    // The new access token works at the sandbox's userinfo endpoint.
    assert.deepEqual(await fetchAccountIdentity(client, { tokens: refreshed, idTokenClaims: null }), { accountId: 'alice', label: 'alice@sandbox.test' });
  });

  it('reusing a rotated refresh token is a permanent error and revokes the grant (RFC 9700 §4.14.2)', async () => {
    const client = await resolve();
    const { tokens } = await connect(client, 'bob');
    const next = await refreshAccessToken(client, tokens.refreshToken!);
    const reuse = await failure(refreshAccessToken(client, tokens.refreshToken!));
    assert.ok(reuse instanceof OAuthProviderError);
    assert.equal(reuse.error, 'invalid_grant');
    assert.deepEqual(classifyFailure(reuse, client.provider).kind, 'permanent');
    const afterReuse = await failure(refreshAccessToken(client, next.refreshToken!));
    assert.equal(classifyFailure(afterReuse, client.provider).code, 'connection_needs_reauth', 'the whole grant is gone');
  });

  it('a wrong PKCE verifier is rejected with invalid_grant', async () => {
    const client = await resolve();
    const pkce = await createPkce();
    const url = buildAuthorizationUrl(client, { state: 'pk', codeChallenge: pkce.challenge });
    const redirect = await completeSandboxLogin(url, { username: 'carol' });
    const other = await createPkce();
    const error = await failure(exchangeAuthorizationCode(client, { callbackParameters: redirect.searchParams, expectedState: 'pk', codeVerifier: other.verifier }));
    assert.ok(error instanceof OAuthProviderError);
    assert.equal(error.error, 'invalid_grant');
  });

  it('a denied consent becomes access_denied', async () => {
    const client = await resolve();
    const url = buildAuthorizationUrl(client, { state: 'deny', codeChallenge: (await createPkce()).challenge });
    const redirect = await completeSandboxLogin(url, { username: 'dave', deny: true });
    const error = await failure(exchangeAuthorizationCode(client, { callbackParameters: redirect.searchParams, expectedState: 'deny', codeVerifier: null }));
    assert.ok(isTokenkeeperError(error, 'access_denied'));
  });

  it('a callback with a foreign issuer (RFC 9207 mix-up) is refused', async () => {
    const client = await resolve();
    const pkce = await createPkce();
    const url = buildAuthorizationUrl(client, { state: 'iss', codeChallenge: pkce.challenge });
    const redirect = await completeSandboxLogin(url, { username: 'erin' });
    const forged = new URLSearchParams(redirect.searchParams);
    forged.set('iss', 'https://attacker.example');
    const error = await failure(exchangeAuthorizationCode(client, { callbackParameters: forged, expectedState: 'iss', codeVerifier: pkce.verifier }));
    assert.ok(isTokenkeeperError(error, 'provider_callback_error'));
  });

  it('client credentials gives a system token without a refresh token', async () => {
    const clock = new ManualClock();
    const client = await resolve({ clock });
    const tokens = await requestClientCredentials(client, { scopes: ['api'] });
    assert.ok(tokens.accessToken.length > 10);
    assert.equal(tokens.refreshToken, null);
    assert.equal(tokens.expiresAt, clock.now() + 120_000);
  });

  it('revokes a refresh token (RFC 7009); refreshing with it then needs reauth', async () => {
    const client = await resolve();
    const { tokens } = await connect(client, 'frank');
    assert.equal(await revokeToken(client, tokens.refreshToken!, 'refresh_token'), 'revoked');
    // Unknown tokens are "revoked" too (RFC 7009 §2.2).
    assert.equal(await revokeToken(client, 'not-a-token-at-all', 'access_token'), 'revoked');
    const error = await failure(refreshAccessToken(client, tokens.refreshToken!));
    assert.equal(classifyFailure(error, client.provider).code, 'connection_needs_reauth');
  });

  it('sandbox faults classify as transient: 503, 429 with Retry-After, garbage; expires_in quirks', async () => {
    const client = await resolve();
    const { tokens } = await connect(client, 'grace');

    sandbox.setFaults({ next5xxCount: 1, retryAfterSeconds: 3 });
    let result = classifyFailure(await failure(refreshAccessToken(client, tokens.refreshToken!)), client.provider);
    assert.deepEqual([result.kind, result.code, result.retryAfterMs], ['transient', 'provider_unavailable', 3000]);

    sandbox.setFaults({ next429Count: 1, retryAfterSeconds: 5 });
    result = classifyFailure(await failure(refreshAccessToken(client, tokens.refreshToken!)), client.provider);
    assert.deepEqual([result.kind, result.code, result.retryAfterMs], ['transient', 'provider_unavailable', 5000]);

    sandbox.setFaults({ garbage: true });
    result = classifyFailure(await failure(refreshAccessToken(client, tokens.refreshToken!)), client.provider);
    assert.deepEqual([result.kind, result.code], ['transient', 'invalid_provider_response']);
    sandbox.resetFaults();

    // None of the faulty answers consumed the refresh token.
    const clock = new ManualClock();
    sandbox.setFaults({ expiresInValue: '3600' });
    const stringExpiry = await refreshAccessToken(client, tokens.refreshToken!, { clock });
    assert.equal(stringExpiry.expiresAt, clock.now() + 3_600_000);

    sandbox.setFaults({ expiresInValue: null, omitExpiresIn: true });
    const noExpiry = await refreshAccessToken(client, stringExpiry.refreshToken!, { clock });
    assert.equal(noExpiry.expiresAt, clock.now() + 120_000, 'the sandbox entry default lifetime');

    // A negative expires_in is garbage (transient) — but the sandbox has already rotated the
    // refresh token, so the new one rides on the error and keeps the connection alive.
    sandbox.setFaults({ omitExpiresIn: false, expiresInValue: -5 });
    const broken = await failure(refreshAccessToken(client, noExpiry.refreshToken!));
    result = classifyFailure(broken, client.provider);
    assert.deepEqual([result.kind, result.code], ['transient', 'invalid_provider_response']);
    const salvaged = salvagedRefreshToken(broken);
    assert.ok(salvaged && salvaged !== noExpiry.refreshToken);
    assert.doesNotMatch(JSON.stringify(broken), new RegExp(salvaged));
    sandbox.resetFaults();
    const recovered = await refreshAccessToken(client, salvaged);
    assert.ok(recovered.accessToken);
  });

  it('an expires_in of 0 or 1e13 is a transient provider fault, and the rotated refresh token is salvaged (items 14, 16)', async () => {
    const client = await resolve();
    let { refreshToken } = (await connect(client, 'hugo')).tokens;
    for (const value of [0, 1e13]) {
      sandbox.setFaults({ expiresInValue: value });
      const error = await failure(refreshAccessToken(client, refreshToken!));
      const result = classifyFailure(error, client.provider);
      assert.deepEqual([result.kind, result.code], ['transient', 'invalid_provider_response'], String(value));
      // The sandbox rotated the refresh token before answering: the old one is dead, and
      // presenting it again would revoke the grant (reuse detection). The new one rides along.
      const salvaged = salvagedRefreshToken(error);
      assert.ok(salvaged && salvaged !== refreshToken, String(value));
      refreshToken = salvaged;
    }
    sandbox.resetFaults();
    const recovered = await refreshAccessToken(client, refreshToken!);
    assert.ok(recovered.accessToken);
  });

  it('a Retry-After of ten years is capped at MAX_RETRY_AFTER_MS (item 15)', async () => {
    const client = await resolve();
    const { tokens } = await connect(client, 'iris');
    sandbox.setFaults({ next429Count: 1, retryAfterSeconds: 315_360_000 });
    const result = classifyFailure(await failure(refreshAccessToken(client, tokens.refreshToken!)), client.provider);
    assert.deepEqual([result.kind, result.retryAfterMs], ['transient', MAX_RETRY_AFTER_MS]);
  });

  it("a wrong client secret is the integration's fault, not the user's (item 6)", async () => {
    const { tokens } = await connect(await resolve(), 'jane');
    const wrong = await resolveProviderClient({
      key: 'sandbox-wrong-secret', provider: 'sandbox', clientId: SANDBOX_DEFAULT_CLIENT.client_id, clientSecret: 'not-the-secret',
      scopes: [], redirectUri: REDIRECT_URI, settings: { issuer: sandbox.issuer },
    });
    const error = await failure(refreshAccessToken(wrong, tokens.refreshToken!));
    const result = classifyFailure(error, wrong.provider);
    assert.deepEqual([result.kind, result.code, result.providerError], ['integration', 'integration_failing', 'invalid_client']);
    // Nothing was consumed: with the right secret the same refresh token still works.
    assert.ok((await refreshAccessToken(await resolve(), tokens.refreshToken!)).accessToken);
  });

  it('discovery failure is provider_unavailable with the issuer in details', async () => {
    const error = await failure(resolveProviderClient({
      key: 'broken', provider: 'oidc', clientId: 'x', clientSecret: null, scopes: [], redirectUri: REDIRECT_URI,
      settings: { issuer: `${sandbox.issuer}/nowhere` },
    }));
    assert.ok(isTokenkeeperError(error, 'provider_unavailable'));
    assert.equal(error.details?.issuer, `${sandbox.issuer}/nowhere`);
  });
});
