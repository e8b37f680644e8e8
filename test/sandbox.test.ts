import { createHash, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { isTokenkeeperError } from '../src/errors.ts';
import { createMemoryLogger } from '../src/logger.ts';
import { SANDBOX_DEFAULT_CLIENT, startSandbox, type SandboxServer } from '../src/sandbox/index.ts';
import { completeSandboxLogin } from './helpers/sandbox-login.ts';

// Real HTTP against a real sandbox on 127.0.0.1 with a random port. The callback URL is never
// requested: completeSandboxLogin returns it and the test reads code/state/error from it.
const REDIRECT_URI = 'http://127.0.0.1:9/oauth/callback';

interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: unknown;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
  error?: string;
}

interface Client {
  client_id: string;
  client_secret: string;
  method?: 'client_secret_basic' | 'client_secret_post';
}

const devClient: Client = { ...SANDBOX_DEFAULT_CLIENT };

async function tokenRequest(sandbox: SandboxServer, params: Record<string, string>, client: Client = devClient): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(params);
  if (client.method === 'client_secret_post') {
    body.set('client_id', client.client_id);
    body.set('client_secret', client.client_secret);
  } else {
    // RFC 6749 §2.3.1: form-urlencode id and secret, then Basic.
    const credentials = `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  return fetch(`${sandbox.issuer}/token`, { method: 'POST', headers, body });
}

async function tokenJson(sandbox: SandboxServer, params: Record<string, string>, client?: Client): Promise<{ status: number; body: TokenResponse }> {
  const response = await tokenRequest(sandbox, params, client);
  return { status: response.status, body: (await response.json()) as TokenResponse };
}

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizationUrl(sandbox: SandboxServer, params: Record<string, string>): URL {
  const url = new URL(`${sandbox.issuer}/auth`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: devClient.client_id,
    redirect_uri: REDIRECT_URI,
    scope: 'openid api',
    ...params,
  }).toString();
  return url;
}

/** The whole authorization-code flow with PKCE; returns the token response. */
async function connect(sandbox: SandboxServer, username = 'alice', client: Client = devClient): Promise<TokenResponse> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const callback = await completeSandboxLogin(
    authorizationUrl(sandbox, { client_id: client.client_id, state, code_challenge: challenge, code_challenge_method: 'S256' }),
    { username },
  );
  assert.equal(callback.searchParams.get('state'), state);
  const code = callback.searchParams.get('code');
  assert.ok(code, `expected a code in ${callback.href}`);
  const { status, body } = await tokenJson(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, client);
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

async function refresh(sandbox: SandboxServer, refreshToken: string): Promise<{ status: number; body: TokenResponse }> {
  return tokenJson(sandbox, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

async function callApi(sandbox: SandboxServer, accessToken?: string): Promise<Response> {
  return fetch(`${sandbox.issuer}/api/me`, { headers: accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` } });
}

function jwtPayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('sandbox OAuth provider', () => {
  let sandbox: SandboxServer;
  const logger = createMemoryLogger('debug');

  before(async () => {
    sandbox = await startSandbox({
      logger,
      redirectUris: [REDIRECT_URI],
      clients: [
        { client_id: 'post-client', client_secret: 'post-client-secret', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'client_secret_post' },
        { client_id: 'public-client', redirect_uris: [REDIRECT_URI] },
      ],
    });
  });
  afterEach(() => {
    sandbox.resetFaults();
    sandbox.resetStats();
  });
  after(() => sandbox.close());

  test('publishes OpenID Connect discovery for its loopback issuer', async () => {
    const response = await fetch(`${sandbox.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    const metadata = (await response.json()) as Record<string, unknown>;
    assert.match(sandbox.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(sandbox.url, sandbox.issuer);
    assert.equal(sandbox.issuer, `http://127.0.0.1:${sandbox.port}`);
    assert.equal(metadata.issuer, sandbox.issuer);
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'userinfo_endpoint', 'jwks_uri']) {
      assert.ok(String(metadata[endpoint]).startsWith(sandbox.issuer), endpoint);
    }
    assert.equal(metadata.token_endpoint, `${sandbox.issuer}/token`);
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
    for (const grant of ['authorization_code', 'refresh_token', 'client_credentials']) {
      assert.ok((metadata.grant_types_supported as string[]).includes(grant), grant);
    }
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      assert.ok((metadata.token_endpoint_auth_methods_supported as string[]).includes(method), method);
    }
    assert.ok((metadata.scopes_supported as string[]).includes('api'));

    const jwks = (await (await fetch(String(metadata.jwks_uri))).json()) as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.d, undefined, 'the JWKS must not publish the private key');
  });

  test('authorization code + PKCE: login, consent, code exchange, ID token, userinfo and the demo API', async () => {
    const tokens = await connect(sandbox, 'dana');
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, 120);
    assert.ok(tokens.refresh_token, 'a refresh token without asking for offline_access');
    assert.equal(tokens.scope, 'openid api');

    const idToken = jwtPayload(tokens.id_token!);
    assert.equal(idToken.iss, sandbox.issuer);
    assert.equal(idToken.aud, devClient.client_id);
    assert.equal(idToken.sub, 'dana');
    assert.equal(idToken.email, 'dana@sandbox.test');
    assert.equal(idToken.name, 'dana');

    const userinfo = await fetch(`${sandbox.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 200);
    assert.deepEqual(await userinfo.json(), { sub: 'dana', email: 'dana@sandbox.test', email_verified: true, name: 'dana' });

    const me = await callApi(sandbox, tokens.access_token);
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { sub: 'dana', email: 'dana@sandbox.test', name: 'dana', scope: 'openid api', client_id: 'tokenkeeper-dev' });
  });

  test('the code exchange fails without the right PKCE verifier, and a code works only once', async () => {
    const { challenge } = pkcePair();
    const callback = await completeSandboxLogin(authorizationUrl(sandbox, { state: 's', code_challenge: challenge, code_challenge_method: 'S256' }));
    const code = callback.searchParams.get('code')!;
    const wrong = await tokenJson(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: pkcePair().verifier });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_grant');

    const { verifier: v2, challenge: c2 } = pkcePair();
    const second = await completeSandboxLogin(authorizationUrl(sandbox, { state: 's', code_challenge: c2, code_challenge_method: 'S256' }));
    const code2 = second.searchParams.get('code')!;
    const ok = await tokenJson(sandbox, { grant_type: 'authorization_code', code: code2, redirect_uri: REDIRECT_URI, code_verifier: v2 });
    assert.equal(ok.status, 200);
    const replay = await tokenJson(sandbox, { grant_type: 'authorization_code', code: code2, redirect_uri: REDIRECT_URI, code_verifier: v2 });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
  });

  test('confidential clients authenticate with client_secret_post or client_secret_basic; public clients need PKCE', async () => {
    const tokens = await connect(sandbox, 'erin', { client_id: 'post-client', client_secret: 'post-client-secret', method: 'client_secret_post' });
    assert.ok(tokens.access_token);
    const devByPost = await tokenJson(sandbox, { grant_type: 'client_credentials' }, { ...devClient, method: 'client_secret_post' });
    assert.equal(devByPost.status, 200);
    const devByBasic = await tokenJson(sandbox, { grant_type: 'client_credentials' }, { ...devClient, method: 'client_secret_basic' });
    assert.equal(devByBasic.status, 200);

    // A public client must use PKCE (RFC 9700 §2.1.1): without it the sandbox refuses at once.
    const withoutPkce = await completeSandboxLogin(authorizationUrl(sandbox, { client_id: 'public-client', state: 'p' }));
    assert.equal(withoutPkce.searchParams.get('error'), 'invalid_request');
    assert.equal(withoutPkce.searchParams.get('state'), 'p');
  });

  test('an oversized token request gets 413 and is not counted as a grant', async () => {
    const response = await fetch(`${sandbox.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&padding=${'x'.repeat(100_000)}`,
    });
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
    assert.equal(sandbox.stats().tokenRequests, 0);
  });

  test('a wrong client secret is invalid_client', async () => {
    const { status, body } = await tokenJson(sandbox, { grant_type: 'client_credentials' }, { client_id: 'tokenkeeper-dev', client_secret: 'wrong' });
    assert.equal(status, 401);
    assert.equal(body.error, 'invalid_client');
  });

  test('deny on the consent page sends error=access_denied back to the redirect_uri', async () => {
    const callback = await completeSandboxLogin(authorizationUrl(sandbox, { state: 'deny-state', ...pkceParams() }), { username: 'frank', deny: true });
    assert.equal(callback.origin + callback.pathname, REDIRECT_URI);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), 'deny-state');
    assert.equal(callback.searchParams.get('code'), null);
    assert.equal(callback.searchParams.get('iss'), sandbox.issuer);
  });

  test('refresh rotates: every refresh returns a new refresh token and a working access token', async () => {
    const first = await connect(sandbox, 'gina');
    const second = await refresh(sandbox, first.refresh_token!);
    assert.equal(second.status, 200);
    assert.ok(second.body.refresh_token);
    assert.notEqual(second.body.refresh_token, first.refresh_token);
    assert.notEqual(second.body.access_token, first.access_token);
    assert.equal(second.body.expires_in, 120);

    const third = await refresh(sandbox, second.body.refresh_token!);
    assert.equal(third.status, 200);
    assert.notEqual(third.body.refresh_token, second.body.refresh_token);
    assert.equal((await callApi(sandbox, third.body.access_token)).status, 200);
  });

  test('reusing a rotated refresh token revokes the whole grant (RFC 9700 §4.14.2)', async () => {
    const tokens = await connect(sandbox, 'hugo');
    // Two naive refreshers with the same refresh token, one after the other.
    const winner = await refresh(sandbox, tokens.refresh_token!);
    assert.equal(winner.status, 200);
    const loser = await refresh(sandbox, tokens.refresh_token!);
    assert.equal(loser.status, 400);
    assert.equal(loser.body.error, 'invalid_grant');

    // The winner's tokens died with the grant.
    const afterReuse = await refresh(sandbox, winner.body.refresh_token!);
    assert.equal(afterReuse.status, 400);
    assert.equal(afterReuse.body.error, 'invalid_grant');
    assert.equal((await callApi(sandbox, winner.body.access_token)).status, 401);
    assert.ok(logger.lines.some((line) => line.includes('reuse detected')), 'reuse detection is logged');
  });

  test('two refreshers racing with the same refresh token kill the grant, as strict providers do', async () => {
    const tokens = await connect(sandbox, 'hana');
    const results = await Promise.all([refresh(sandbox, tokens.refresh_token!), refresh(sandbox, tokens.refresh_token!)]);
    assert.deepEqual(results.map((result) => result.status).sort(), [200, 400]);
    const winner = results.find((result) => result.status === 200)!;
    assert.equal(results.find((result) => result.status === 400)!.body.error, 'invalid_grant');
    assert.equal((await refresh(sandbox, winner.body.refresh_token!)).body.error, 'invalid_grant');
  });

  test('client credentials give an app-level token for the api scope, without a refresh token', async () => {
    const { status, body } = await tokenJson(sandbox, { grant_type: 'client_credentials', scope: 'api' });
    assert.equal(status, 200);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'api');
    assert.equal(body.expires_in, 120);
    assert.equal(body.refresh_token, undefined);

    const me = await callApi(sandbox, body.access_token);
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { sub: 'tokenkeeper-dev', email: null, name: null, scope: 'api', client_id: 'tokenkeeper-dev' });
  });

  test('the demo API answers 401 with WWW-Authenticate for missing, unknown and revoked tokens', async () => {
    const missing = await callApi(sandbox);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="tokenkeeper-sandbox"');

    const unknown = await callApi(sandbox, 'not-a-token');
    assert.equal(unknown.status, 401);
    assert.match(unknown.headers.get('www-authenticate')!, /^Bearer realm="tokenkeeper-sandbox", error="invalid_token"/);
    assert.equal(((await unknown.json()) as { error: string }).error, 'invalid_token');

    // RFC 7009 revocation at the sandbox's revocation endpoint.
    const tokens = await connect(sandbox, 'ivy');
    assert.equal((await callApi(sandbox, tokens.access_token)).status, 200);
    const credentials = Buffer.from(`${devClient.client_id}:${devClient.client_secret}`).toString('base64');
    const revoked = await fetch(`${sandbox.issuer}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token, token_type_hint: 'access_token' }),
    });
    assert.equal(revoked.status, 200);
    const afterRevoke = await callApi(sandbox, tokens.access_token);
    assert.equal(afterRevoke.status, 401);
    assert.match(afterRevoke.headers.get('www-authenticate')!, /error="invalid_token"/);
  });

  test('revoking a refresh token at the revocation endpoint ends the grant', async () => {
    const tokens = await connect(sandbox, 'jack');
    const credentials = Buffer.from(`${devClient.client_id}:${devClient.client_secret}`).toString('base64');
    const revoked = await fetch(`${sandbox.issuer}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.refresh_token!, token_type_hint: 'refresh_token' }),
    });
    assert.equal(revoked.status, 200);
    assert.equal((await refresh(sandbox, tokens.refresh_token!)).body.error, 'invalid_grant');
  });

  test('revokeGrants(account) makes that account\'s refreshes fail with invalid_grant and spares others', async () => {
    const kim = await connect(sandbox, 'kim');
    const lee = await connect(sandbox, 'lee');
    assert.equal(await sandbox.revokeGrants('kim'), 1);

    const kimRefresh = await refresh(sandbox, kim.refresh_token!);
    assert.equal(kimRefresh.status, 400);
    assert.equal(kimRefresh.body.error, 'invalid_grant');
    assert.equal((await callApi(sandbox, kim.access_token)).status, 401);

    const leeRefresh = await refresh(sandbox, lee.refresh_token!);
    assert.equal(leeRefresh.status, 200);
  });

  test('revokeGrants() with no account revokes every grant', async () => {
    const a = await connect(sandbox, 'mia');
    const b = await connect(sandbox, 'ned');
    assert.ok((await sandbox.revokeGrants()) >= 2);
    assert.equal((await refresh(sandbox, a.refresh_token!)).body.error, 'invalid_grant');
    assert.equal((await refresh(sandbox, b.refresh_token!)).body.error, 'invalid_grant');
  });

  describe('fault switches on the token endpoint', () => {
    test('errorRate5xx answers 503 with temporarily_unavailable and Retry-After', async () => {
      const tokens = await connect(sandbox, 'olga');
      sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 7 });
      const response = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '7');
      assert.deepEqual(await response.json(), { error: 'temporarily_unavailable', error_description: 'The sandbox is unavailable (fault switch).' });

      // Only the token endpoint misbehaves.
      assert.equal((await fetch(`${sandbox.issuer}/.well-known/openid-configuration`)).status, 200);
      assert.equal((await callApi(sandbox, tokens.access_token)).status, 200);

      // The refresh token was not consumed by the failed attempt.
      sandbox.resetFaults();
      assert.equal((await refresh(sandbox, tokens.refresh_token!)).status, 200);
    });

    test('status5xx picks the 5xx status', async () => {
      sandbox.setFaults({ errorRate5xx: 1, status5xx: 502 });
      const response = await tokenRequest(sandbox, { grant_type: 'client_credentials' });
      assert.equal(response.status, 502);
      await response.body?.cancel();
    });

    test('errorRate429 answers 429 with Retry-After', async () => {
      sandbox.setFaults({ errorRate429: 1, retryAfterSeconds: 3 });
      const response = await tokenRequest(sandbox, { grant_type: 'client_credentials' });
      assert.equal(response.status, 429);
      assert.equal(response.headers.get('retry-after'), '3');
      assert.equal(((await response.json()) as { error: string }).error, 'temporarily_unavailable');
    });

    test('next429Count and next5xxCount fail exactly that many requests, then recover', async () => {
      sandbox.setFaults({ next429Count: 1, next5xxCount: 2 });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await tokenRequest(sandbox, { grant_type: 'client_credentials' });
        statuses.push(response.status);
        await response.body?.cancel();
      }
      assert.deepEqual(statuses, [429, 503, 503, 200]);
      assert.equal(sandbox.faults().next5xxCount, 0);
    });

    test('garbage answers 200 with a body that is not JSON, and consumes nothing', async () => {
      const tokens = await connect(sandbox, 'pia');
      sandbox.setFaults({ garbage: true });
      const response = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.throws(() => JSON.parse(text), SyntaxError);

      sandbox.setFaults({ garbage: false });
      assert.equal((await refresh(sandbox, tokens.refresh_token!)).status, 200);
    });

    test('latencyMs delays the token endpoint answer', async () => {
      sandbox.setFaults({ latencyMs: 300 });
      const started = performance.now();
      const response = await tokenRequest(sandbox, { grant_type: 'client_credentials' });
      const elapsed = performance.now() - started;
      assert.equal(response.status, 200);
      await response.body?.cancel();
      // A lower bound only: timers never fire early, so this cannot flake on a slow machine.
      assert.ok(elapsed >= 295, `answered after ${elapsed.toFixed(0)} ms`);
    });

    test('omitExpiresIn and expiresInValue change what the client is told', async () => {
      sandbox.setFaults({ omitExpiresIn: true });
      const omitted = await tokenJson(sandbox, { grant_type: 'client_credentials' });
      assert.equal(omitted.status, 200);
      assert.equal('expires_in' in omitted.body, false);

      sandbox.setFaults({ omitExpiresIn: false, expiresInValue: '3600' });
      assert.equal((await tokenJson(sandbox, { grant_type: 'client_credentials' })).body.expires_in, '3600');

      sandbox.setFaults({ expiresInValue: -5 });
      const negative = await tokenJson(sandbox, { grant_type: 'client_credentials' });
      assert.equal(negative.body.expires_in, -5);
      // The token itself is fine; only the announced lifetime is wrong.
      assert.equal((await callApi(sandbox, negative.body.access_token)).status, 200);
    });

    test('bad fault settings are refused with a clear message', () => {
      assert.throws(() => sandbox.setFaults({ errorRate5xx: 2 }), (error) => isTokenkeeperError(error, 'invalid_request') && /errorRate5xx/.test(error.message));
      assert.throws(() => sandbox.setFaults({ latncyMs: 5 } as never), (error) => isTokenkeeperError(error, 'invalid_request') && /Unknown fault "latncyMs"/.test(error.message));
      assert.equal(sandbox.faults().errorRate5xx, 0);
    });
  });

  test('stats count token requests as received, by grant type, including faulted ones', async () => {
    const tokens = await connect(sandbox, 'quinn');
    sandbox.resetStats();
    sandbox.setFaults({ errorRate5xx: 1 });
    await (await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })).body?.cancel();
    sandbox.resetFaults();
    await refresh(sandbox, tokens.refresh_token!);
    await tokenJson(sandbox, { grant_type: 'client_credentials' });
    assert.deepEqual(sandbox.stats(), { tokenRequests: 3, byGrantType: { refresh_token: 2, client_credentials: 1 }, rateLimited: 0, maxInFlight: 1 });
    sandbox.resetStats();
    assert.deepEqual(sandbox.stats(), { tokenRequests: 0, byGrantType: {}, rateLimited: 0, maxInFlight: 0 });
  });

  describe('admin routes over HTTP', () => {
    test('GET and POST /_sandbox/faults read and change the switches', async () => {
      const changed = await fetch(`${sandbox.issuer}/_sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ errorRate429: 1, retryAfterSeconds: 2 }),
      });
      assert.equal(changed.status, 200);
      assert.equal(((await changed.json()) as { errorRate429: number }).errorRate429, 1);
      assert.equal(sandbox.faults().errorRate429, 1);
      const read = (await (await fetch(`${sandbox.issuer}/_sandbox/faults`)).json()) as { retryAfterSeconds: number };
      assert.equal(read.retryAfterSeconds, 2);
      assert.equal((await tokenRequest(sandbox, { grant_type: 'client_credentials' })).status, 429);

      const reset = await fetch(`${sandbox.issuer}/_sandbox/faults/reset`, { method: 'POST' });
      assert.equal(((await reset.json()) as { errorRate429: number }).errorRate429, 0);
    });

    test('invalid fault settings get a 400 with a stable code', async () => {
      const invalid = await fetch(`${sandbox.issuer}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"errorRate5xx":"lots"}' });
      assert.equal(invalid.status, 400);
      const body = (await invalid.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'invalid_request');
      assert.match(body.error.message, /errorRate5xx/);

      const notJson = await fetch(`${sandbox.issuer}/_sandbox/faults`, { method: 'POST', body: '{oops' });
      assert.equal(notJson.status, 400);
      assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'invalid_json');
    });

    test('POST /_sandbox/revoke revokes grants; /_sandbox/stats reports and resets', async () => {
      const tokens = await connect(sandbox, 'rosa');
      const revoke = await fetch(`${sandbox.issuer}/_sandbox/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account_id: 'rosa' }) });
      assert.deepEqual(await revoke.json(), { revoked: 1 });
      assert.equal((await refresh(sandbox, tokens.refresh_token!)).body.error, 'invalid_grant');

      const stats = (await (await fetch(`${sandbox.issuer}/_sandbox/stats`)).json()) as { tokenRequests: number; byGrantType: Record<string, number> };
      assert.deepEqual(stats, { tokenRequests: 2, byGrantType: { authorization_code: 1, refresh_token: 1 }, rateLimited: 0, maxInFlight: 1 });
      const reset = await fetch(`${sandbox.issuer}/_sandbox/stats/reset`, { method: 'POST' });
      assert.deepEqual(await reset.json(), { tokenRequests: 0, byGrantType: {}, rateLimited: 0, maxInFlight: 0 });
    });
  });

  test('addClient registers a client at run time and replaces one with the same id', async () => {
    sandbox.addClient({ client_id: 'late-client', client_secret: 'late-secret', redirect_uris: ['https://app.example/callback'] });
    const { status } = await tokenJson(sandbox, { grant_type: 'client_credentials' }, { client_id: 'late-client', client_secret: 'late-secret' });
    assert.equal(status, 200);

    sandbox.addClient({ client_id: 'late-client', client_secret: 'rotated-secret', redirect_uris: ['https://app.example/callback'] });
    assert.equal((await tokenJson(sandbox, { grant_type: 'client_credentials' }, { client_id: 'late-client', client_secret: 'late-secret' })).status, 401);
    assert.equal((await tokenJson(sandbox, { grant_type: 'client_credentials' }, { client_id: 'late-client', client_secret: 'rotated-secret' })).status, 200);

    assert.throws(
      () => sandbox.addClient({ client_id: 'broken', client_secret: 's', redirect_uris: ['not a uri'] }),
      (error) => isTokenkeeperError(error, 'invalid_request') && /broken/.test(error.message),
    );
  });

  test('loopback redirect URIs of the dev client match on any port (RFC 8252 §7.3)', async () => {
    const otherPort = 'http://127.0.0.1:54321/oauth/callback';
    const callback = await completeSandboxLogin(authorizationUrl(sandbox, { redirect_uri: otherPort, state: 'port', ...pkceParams() }));
    assert.equal(callback.origin, 'http://127.0.0.1:54321');
    assert.ok(callback.searchParams.get('code'));
  });

  test('an unregistered redirect_uri gets an error page, never a redirect', async () => {
    const response = await fetch(authorizationUrl(sandbox, { redirect_uri: 'https://evil.example/cb', state: 'x', ...pkceParams() }), { redirect: 'manual' });
    assert.equal(response.status, 400);
    const html = await response.text();
    assert.match(html, /Tokenkeeper sandbox/);
    assert.match(html, /redirect_uri/);
  });

  test('the login and consent pages are labelled, and an empty username is refused', async () => {
    const start = await fetch(authorizationUrl(sandbox, { state: 'pages', ...pkceParams() }), { redirect: 'manual' });
    assert.equal(start.status, 303);
    const cookies = start.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
    const loginUrl = new URL(start.headers.get('location')!, sandbox.issuer);
    const page = await fetch(loginUrl, { headers: { cookie: cookies } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Tokenkeeper sandbox/);
    assert.match(html, /id="login-form"/);
    assert.match(html, /name="username"/);

    const empty = await fetch(`${loginUrl.href}/login`, {
      method: 'POST',
      headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=%20%20',
    });
    assert.equal(empty.status, 400);
    assert.match(await empty.text(), /Enter a username/);
  });

  test('an interaction page without its cookie explains that the sign-in expired', async () => {
    const response = await fetch(`${sandbox.issuer}/interaction/abc123`);
    assert.equal(response.status, 400);
    assert.match(await response.text(), /Sign-in expired/);
  });

  test('nothing logged contains a token', async () => {
    const tokens = await connect(sandbox, 'sam');
    await refresh(sandbox, tokens.refresh_token!);
    await refresh(sandbox, tokens.refresh_token!);
    const logs = logger.lines.join('\n');
    for (const secret of [tokens.access_token, tokens.refresh_token!, tokens.id_token!, devClient.client_secret]) {
      assert.equal(logs.includes(secret), false);
    }
  });
});

describe('sandbox options', () => {
  test('accessTokenTtlSeconds sets the access-token lifetime, and the demo API refuses it once expired', async () => {
    const sandbox = await startSandbox({ accessTokenTtlSeconds: 2, redirectUris: [REDIRECT_URI] });
    try {
      // `exp` has one-second resolution: with 2 s the token lives at least 1 s, so the first
      // call cannot race the expiry, and it is surely dead once two whole seconds have passed
      // after the second in which it was issued.
      const tokens = await connect(sandbox, 'tess');
      const issuedSecond = Math.floor(Date.now() / 1000);
      assert.equal(tokens.expires_in, 2);
      assert.equal((await callApi(sandbox, tokens.access_token)).status, 200);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, (issuedSecond + 2) * 1000 + 50 - Date.now())));
      const expired = await callApi(sandbox, tokens.access_token);
      assert.equal(expired.status, 401);
      assert.match(expired.headers.get('www-authenticate')!, /error="invalid_token"/);
      // The refresh token still works after the access token expired.
      assert.equal((await refresh(sandbox, tokens.refresh_token!)).status, 200);
    } finally {
      await sandbox.close();
    }
  });

  test('two sandboxes in one process do not share tokens', async () => {
    const one = await startSandbox({ redirectUris: [REDIRECT_URI] });
    const two = await startSandbox({ redirectUris: [REDIRECT_URI] });
    try {
      const tokens = await connect(one, 'uma');
      assert.equal((await callApi(one, tokens.access_token)).status, 200);
      assert.equal((await callApi(two, tokens.access_token)).status, 401);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('errorRate429 and errorRate5xx are disjoint shares of one random draw', async () => {
    const draws = [0.05, 0.25, 0.6, 0.95];
    let next = 0;
    const sandbox = await startSandbox({ random: () => draws[next++ % draws.length]! });
    try {
      sandbox.setFaults({ errorRate429: 0.2, errorRate5xx: 0.3 });
      const statuses: number[] = [];
      for (let i = 0; i < draws.length; i++) {
        const response = await tokenRequest(sandbox, { grant_type: 'client_credentials' });
        statuses.push(response.status);
        await response.body?.cancel();
      }
      assert.deepEqual(statuses, [429, 503, 200, 200]);
    } finally {
      await sandbox.close();
    }
  });

  test('the login page is shown on every authorization, so one browser can connect several accounts', async () => {
    const sandbox = await startSandbox({ redirectUris: [REDIRECT_URI] });
    try {
      // prompt=none cannot be satisfied: the sandbox always wants to know who signs in.
      const silent = await completeSandboxLogin(authorizationUrl(sandbox, { prompt: 'none', state: 'n', ...pkceParams() }));
      assert.equal(silent.searchParams.get('error'), 'login_required');
      // login_hint pre-fills the username field.
      const start = await fetch(authorizationUrl(sandbox, { login_hint: 'vera@example', state: 'h', ...pkceParams() }), { redirect: 'manual' });
      const cookies = start.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
      const page = await fetch(new URL(start.headers.get('location')!, sandbox.issuer), { headers: { cookie: cookies } });
      assert.match(await page.text(), /value="vera@example"/);
    } finally {
      await sandbox.close();
    }
  });

  test('invalid options are refused', async () => {
    await assert.rejects(startSandbox({ accessTokenTtlSeconds: 0 }), (error) => isTokenkeeperError(error, 'invalid_request'));
    await assert.rejects(startSandbox({ port: 70_000 }), (error) => isTokenkeeperError(error, 'invalid_request'));
  });

  test('close() is idempotent and the port is released', async () => {
    const sandbox = await startSandbox();
    await Promise.all([sandbox.close(), sandbox.close()]);
    const again = await startSandbox({ port: sandbox.port });
    assert.equal(again.port, sandbox.port);
    await again.close();
  });

  test('close() does not wait for a pending latency fault', async () => {
    const sandbox = await startSandbox();
    sandbox.setFaults({ latencyMs: 600_000 });
    const pending = tokenRequest(sandbox, { grant_type: 'client_credentials' }).then(
      () => 'answered',
      () => 'connection closed',
    );
    while (sandbox.stats().tokenRequests === 0) await new Promise((resolve) => setImmediate(resolve));
    await sandbox.close();
    assert.equal(await pending, 'connection closed');
  });
});

function pkceParams(): Record<string, string> {
  return { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' };
}
