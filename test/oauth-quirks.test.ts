/**
 * Token-endpoint behaviour against a real local HTTP server answering with recorded response
 * shapes (GitHub's HTTP 200 errors and form encoding, Slack's ok:false, 5xx, 429, garbage): the
 * cases the sandbox provider cannot show.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../src/clock.ts';
import { isTokenkeeperError, TokenkeeperError } from '../src/errors.ts';
import {
  classifyFailure, exchangeAuthorizationCode, fetchAccountIdentity, OAuthProviderError, refreshAccessToken, requestClientCredentials,
  resolveProviderClient, revokeToken, salvagedRefreshToken, type ProviderClient,
} from '../src/oauth/index.ts';
import type { IntegrationSettings } from '../src/providers/index.ts';
import { nextStoredTokens } from '../src/tokens/index.ts';

interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
}
interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Never answer (for timeouts). */
  hang?: boolean;
}

let server: Server;
let base: string;
let requests: RecordedRequest[] = [];
let answer: (request: RecordedRequest) => Answer = () => ({ status: 500 });

before(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, form: new URLSearchParams(raw) };
      requests.push(recorded);
      const { status = 200, headers = {}, body, hang } = answer(recorded);
      if (hang) return;
      const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      const contentType = typeof body === 'string' ? 'text/plain' : 'application/json';
      res.writeHead(status, { 'content-type': contentType, ...headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests = [];
});

const clock = new ManualClock(Date.parse('2026-05-01T00:00:00Z'));

async function clientFor(provider: string, settings: IntegrationSettings = {}, options: { timeoutMs?: number } = {}): Promise<ProviderClient> {
  return resolveProviderClient(
    {
      key: `test-${provider}`,
      provider,
      clientId: 'client-1',
      clientSecret: 'client-secret-1',
      scopes: [],
      redirectUri: 'http://127.0.0.1/callback',
      settings: { authorizationEndpoint: `${base}/authorize`, tokenEndpoint: `${base}/token`, ...settings },
    },
    { clock, timeoutMs: options.timeoutMs },
  );
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a failure');
}

describe('GitHub App token endpoint', () => {
  it('sends Accept: application/json and the credentials in the body; reads a rotated token set', async () => {
    answer = (request) =>
      request.headers.accept === 'application/json'
        ? { body: { access_token: 'ghu_new', expires_in: 28800, refresh_token: 'ghr_new', refresh_token_expires_in: 15897600, token_type: 'bearer', scope: '' } }
        : { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'error=wrong_client' };
    const client = await clientFor('github-app');
    const tokens = await refreshAccessToken(client, 'ghr_old');
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.equal(request.headers.accept, 'application/json');
    assert.equal(request.headers.authorization, undefined);
    assert.equal(request.form.get('grant_type'), 'refresh_token');
    assert.equal(request.form.get('refresh_token'), 'ghr_old');
    assert.equal(request.form.get('client_id'), 'client-1');
    assert.equal(request.form.get('client_secret'), 'client-secret-1');
    assert.deepEqual(tokens, {
      accessToken: 'ghu_new',
      refreshToken: 'ghr_new',
      idToken: null,
      tokenType: 'Bearer',
      expiresAt: clock.now() + 28_800_000,
      scopes: [],
      extra: { refresh_token_expires_in: 15897600 },
    });
  });

  it('turns HTTP 200 + {error: bad_refresh_token} into a permanent error', async () => {
    answer = () => ({ status: 200, body: { error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' } });
    const client = await clientFor('github-app');
    const error = await failure(refreshAccessToken(client, 'ghr_dead'));
    assert.ok(error instanceof OAuthProviderError);
    assert.equal(error.error, 'bad_refresh_token');
    assert.equal(error.status, 400);
    assert.equal(classifyFailure(error, client.provider).kind, 'permanent');
    assert.equal(classifyFailure(error, client.provider).code, 'connection_needs_reauth');
  });

  it('understands the form-encoded answer GitHub gives without Accept: application/json', async () => {
    answer = () => ({
      status: 200,
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: 'error=bad_refresh_token&error_description=The+refresh+token+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com',
    });
    const client = await clientFor('github-app');
    const error = await failure(refreshAccessToken(client, 'ghr_dead'));
    assert.ok(error instanceof OAuthProviderError);
    assert.equal(error.error, 'bad_refresh_token');
    assert.equal(error.error_description, 'The refresh token passed is incorrect or expired.');

    answer = () => ({
      status: 200,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'access_token=ghu_form&expires_in=28800&refresh_token=ghr_form&scope=repo%2Cgist&token_type=bearer',
    });
    const tokens = await refreshAccessToken(client, 'ghr_old');
    assert.equal(tokens.accessToken, 'ghu_form');
    assert.equal(tokens.refreshToken, 'ghr_form');
    assert.equal(tokens.expiresAt, clock.now() + 28_800_000);
    assert.deepEqual(tokens.scopes, ['repo', 'gist']);
  });

  it('refuses to refresh for a GitHub OAuth App, whose tokens never expire', async () => {
    const client = await clientFor('github');
    const error = await failure(refreshAccessToken(client, 'anything'));
    assert.ok(isTokenkeeperError(error, 'no_refresh_token'));
    assert.equal(requests.length, 0);
  });
});

describe("the integration's own credentials rejected (item 6): integration_failing, never needs_reauth", () => {
  const cases: Array<[string, string, Answer, string | null]> = [
    ['GitHub: HTTP 200 + incorrect_client_credentials', 'github-app', {
      status: 200,
      body: { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' },
    }, 'incorrect_client_credentials'],
    ['Slack: ok:false bad_client_secret', 'slack', { status: 200, body: { ok: false, error: 'bad_client_secret' } }, 'bad_client_secret'],
    ['Slack: ok:false invalid_client_id', 'slack', { status: 200, body: { ok: false, error: 'invalid_client_id' } }, 'invalid_client_id'],
    ['RFC 6749 §5.2: 401 invalid_client', 'custom', { status: 401, headers: { 'www-authenticate': 'Basic realm="token"' }, body: { error: 'invalid_client' } }, 'invalid_client'],
    ['400 unauthorized_client', 'google', { status: 400, body: { error: 'unauthorized_client', error_description: 'Unauthorized' } }, 'unauthorized_client'],
    ['401 with an empty body', 'custom', { status: 401 }, null],
    ['401 with an HTML page', 'microsoft', { status: 401, body: '<html>Unauthorized</html>' }, null],
  ];
  for (const [name, provider, response, providerError] of cases) {
    it(name, async () => {
      answer = () => response;
      const client = await clientFor(provider);
      const error = await failure(refreshAccessToken(client, 'rt-secret-value'));
      const result = classifyFailure(error, client.provider);
      assert.deepEqual([result.kind, result.code, result.providerError], ['integration', 'integration_failing', providerError]);
      assert.doesNotMatch(`${result.reason} ${(error as Error).message}`, /rt-secret-value|client-secret-1|reconnect/);
    });
  }

  it('client credentials and the code exchange classify the same way', async () => {
    answer = () => ({ status: 401 });
    const client = await clientFor('custom');
    assert.equal(classifyFailure(await failure(requestClientCredentials(client)), client.provider).kind, 'integration');
    const callback = new URLSearchParams({ code: 'the-code', state: 'state-1' });
    const error = await failure(exchangeAuthorizationCode(client, { callbackParameters: callback, expectedState: 'state-1', codeVerifier: 'v'.repeat(43) }));
    assert.equal(classifyFailure(error, client.provider).kind, 'integration');
  });

  it('a 401 from the userinfo endpoint is about the access token, not the integration', async () => {
    answer = () => ({ status: 401, body: { error: 'invalid_token' } });
    const client = await clientFor('custom', { userinfoEndpoint: `${base}/userinfo` });
    const tokens = { accessToken: 'at', refreshToken: null, idToken: null, tokenType: 'Bearer', expiresAt: null, scopes: null, extra: {} };
    const error = await failure(fetchAccountIdentity(client, { tokens, idTokenClaims: null }));
    assert.notEqual(classifyFailure(error, client.provider).kind, 'integration');
  });
});

describe('Slack token endpoint', () => {
  it('turns HTTP 200 + {ok:false, error:invalid_refresh_token} into a permanent error', async () => {
    answer = () => ({ status: 200, body: { ok: false, error: 'invalid_refresh_token' } });
    const client = await clientFor('slack');
    const error = await failure(refreshAccessToken(client, 'xoxe-1-dead'));
    assert.ok(error instanceof OAuthProviderError);
    assert.equal(error.error, 'invalid_refresh_token');
    assert.deepEqual(classifyFailure(error, client.provider).kind, 'permanent');
    // Slack prefers HTTP Basic for client credentials.
    assert.match(String(requests[0].headers.authorization), /^Basic /);
  });

  it('treats ok:false ratelimited as transient', async () => {
    answer = () => ({ status: 200, body: { ok: false, error: 'ratelimited' } });
    const client = await clientFor('slack');
    const result = classifyFailure(await failure(refreshAccessToken(client, 'xoxe-1-r')), client.provider);
    assert.equal(result.kind, 'transient');
    assert.equal(result.code, 'provider_unavailable');
  });

  it('reads a rotated Slack token set; metadata keeps the team, never a nested token', async () => {
    answer = () => ({
      body: {
        ok: true,
        app_id: 'A1',
        access_token: 'xoxe.xoxb-1-new',
        token_type: 'bot',
        expires_in: 43200,
        refresh_token: 'xoxe-1-new',
        scope: 'chat:write,channels:read',
        team: { id: 'T1', name: 'Acme' },
        authed_user: { id: 'U1', access_token: 'xoxe.xoxp-1-user', refresh_token: 'xoxe-1-user' },
      },
    });
    const client = await clientFor('slack');
    const tokens = await refreshAccessToken(client, 'xoxe-1-old');
    assert.equal(tokens.accessToken, 'xoxe.xoxb-1-new');
    assert.equal(tokens.refreshToken, 'xoxe-1-new');
    assert.equal(tokens.tokenType, 'Bearer');
    assert.equal(tokens.expiresAt, clock.now() + 43_200_000);
    assert.deepEqual(tokens.scopes, ['chat:write', 'channels:read']);
    assert.deepEqual(tokens.extra, { ok: true, app_id: 'A1', team: { id: 'T1', name: 'Acme' }, authed_user: { id: 'U1' } });
    assert.doesNotMatch(JSON.stringify(tokens.extra), /xox/);
  });
});

describe('HTTP failures are transient', () => {
  it('500 with an HTML page → provider_unavailable', async () => {
    answer = () => ({ status: 500, body: '<html>Internal Server Error</html>' });
    const client = await clientFor('custom');
    const error = await failure(refreshAccessToken(client, 'rt'));
    assert.ok(isTokenkeeperError(error, 'provider_unavailable'));
    assert.deepEqual(classifyFailure(error, client.provider), {
      kind: 'transient', code: 'provider_unavailable', reason: "The provider's token endpoint answered HTTP 500.", providerError: null, retryAfterMs: null,
    });
  });

  it('429 with Retry-After seconds → transient with retryAfterMs', async () => {
    answer = () => ({ status: 429, headers: { 'retry-after': '7' }, body: 'slow down' });
    const client = await clientFor('custom');
    const result = classifyFailure(await failure(refreshAccessToken(client, 'rt')), client.provider);
    assert.deepEqual([result.kind, result.code, result.retryAfterMs], ['transient', 'provider_unavailable', 7000]);
  });

  it('503 with an OAuth body and a Retry-After date → transient with retryAfterMs from the clock', async () => {
    const retryAt = new Date(clock.now() + 90_000).toUTCString();
    answer = () => ({ status: 503, headers: { 'retry-after': retryAt }, body: { error: 'temporarily_unavailable' } });
    const client = await clientFor('custom');
    const error = await failure(refreshAccessToken(client, 'rt'));
    assert.ok(error instanceof OAuthProviderError);
    const result = classifyFailure(error, client.provider);
    assert.deepEqual([result.kind, result.code, result.providerError, result.retryAfterMs], ['transient', 'provider_unavailable', 'temporarily_unavailable', 90_000]);
  });

  it('400 invalid_grant → permanent (RFC 6749 §5.2)', async () => {
    answer = () => ({ status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } });
    const client = await clientFor('custom');
    const result = classifyFailure(await failure(refreshAccessToken(client, 'rt')), client.provider);
    assert.deepEqual([result.kind, result.code, result.providerError], ['permanent', 'connection_needs_reauth', 'invalid_grant']);
  });

  it('a 4xx without an OAuth error body → invalid_provider_response, not reauth', async () => {
    answer = () => ({ status: 404, body: 'Not Found' });
    const client = await clientFor('custom');
    const result = classifyFailure(await failure(refreshAccessToken(client, 'rt')), client.provider);
    assert.deepEqual([result.kind, result.code], ['transient', 'invalid_provider_response']);
  });

  it('an unreachable endpoint → provider_unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = await clientFor('custom', { tokenEndpoint: `http://127.0.0.1:${port}/token` });
    const error = await failure(refreshAccessToken(client, 'rt'));
    assert.ok(isTokenkeeperError(error, 'provider_unavailable'));
    assert.equal((error as TokenkeeperError).details?.reason, 'network');
  });

  it('a provider that never answers → provider_unavailable after the default timeout', async () => {
    answer = () => ({ hang: true });
    const client = await clientFor('custom', {}, { timeoutMs: 200 });
    const error = await failure(refreshAccessToken(client, 'rt'));
    assert.ok(isTokenkeeperError(error, 'provider_unavailable'));
    assert.equal((error as TokenkeeperError).details?.reason, 'timeout');
    assert.equal(classifyFailure(error, client.provider).kind, 'transient');
  });

  it("the caller's AbortSignal cuts a request short", async () => {
    answer = () => ({ hang: true });
    const client = await clientFor('custom');
    const controller = new AbortController();
    const pending = failure(refreshAccessToken(client, 'rt', { signal: controller.signal }));
    while (requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const error = await pending;
    assert.ok(isTokenkeeperError(error, 'provider_unavailable'));
    assert.equal((error as TokenkeeperError).details?.reason, 'aborted');
  });
});

describe('garbage from the token endpoint is transient invalid_provider_response', () => {
  const garbageCases: Array<[string, Answer]> = [
    ['non-JSON 200', { status: 200, body: '<html>Login</html>' }],
    ['200 without access_token', { body: { token_type: 'bearer', expires_in: 3600 } }],
    ['200 with an empty access_token', { body: { access_token: '', token_type: 'bearer' } }],
    ['200 with a JSON array', { body: [1, 2] }],
    ['negative expires_in', { body: { access_token: 'at', token_type: 'bearer', expires_in: -1 } }],
    ['non-numeric expires_in', { body: { access_token: 'at', token_type: 'bearer', expires_in: 'abc' } }],
    ['non-finite expires_in (1e400)', { body: '{"access_token":"at","token_type":"bearer","expires_in":1e400}', headers: { 'content-type': 'application/json' } }],
    ['expires_in "Infinity"', { body: { access_token: 'at', token_type: 'bearer', expires_in: 'Infinity' } }],
    ['expires_in as an object', { body: { access_token: 'at', token_type: 'bearer', expires_in: { s: 1 } } }],
    ['refresh_token that is not a string', { body: { access_token: 'at', token_type: 'bearer', refresh_token: 42 } }],
    ['unsupported token_type', { body: { access_token: 'at', token_type: 'mac' } }],
    ['200 with an error field (provider without that quirk)', { body: { error: 'invalid_grant' } }],
  ];
  for (const [name, response] of garbageCases) {
    it(name, async () => {
      answer = () => response;
      const client = await clientFor('custom');
      const error = await failure(refreshAccessToken(client, 'rt-value-123'));
      assert.ok(isTokenkeeperError(error, 'invalid_provider_response'), String(error));
      const result = classifyFailure(error, client.provider);
      assert.deepEqual([result.kind, result.code], ['transient', 'invalid_provider_response']);
      assert.doesNotMatch(`${(error as Error).message} ${JSON.stringify(error)} ${result.reason}`, /rt-value-123|"at"/);
    });
  }
});

describe('expires_in and refresh_token handling', () => {
  it('a rejected 2xx answer still hands over its new refresh token (never drop a rotated one)', async () => {
    answer = () => ({ body: { access_token: 'at', token_type: 'bearer', expires_in: -1, refresh_token: 'rt-rotated' } });
    const error = await failure(refreshAccessToken(await clientFor('custom'), 'rt-old'));
    assert.ok(isTokenkeeperError(error, 'invalid_provider_response'));
    assert.equal(salvagedRefreshToken(error), 'rt-rotated');
    assert.doesNotMatch(JSON.stringify(error) + String(error), /rt-rotated/);

    answer = () => ({ body: { token_type: 'bearer' } });
    assert.equal(salvagedRefreshToken(await failure(refreshAccessToken(await clientFor('custom'), 'rt-old'))), null);
    assert.equal(salvagedRefreshToken(new Error('x')), null);
  });

  it('accepts a numeric string expires_in ("3600")', async () => {
    answer = () => ({ body: { access_token: 'at', token_type: 'Bearer', expires_in: '3600', refresh_token: 'rt2' } });
    const tokens = await refreshAccessToken(await clientFor('custom'), 'rt');
    assert.equal(tokens.expiresAt, clock.now() + 3_600_000);
  });

  it('computes expiresAt from when the request was sent, by the given clock', async () => {
    const requestClock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
    answer = () => ({ body: { access_token: 'at', token_type: 'bearer', expires_in: 120 } });
    const tokens = await refreshAccessToken(await clientFor('custom'), 'rt', { clock: requestClock });
    assert.equal(tokens.expiresAt, Date.parse('2030-01-01T00:02:00Z'));
  });

  it('missing expires_in → the provider default (Salesforce: session timeout)', async () => {
    answer = () => ({
      body: {
        access_token: '00Dxx!session', token_type: 'Bearer', instance_url: 'https://acme.my.salesforce.com',
        id: 'https://login.salesforce.com/id/00Dxx/005xx', issued_at: '1746057600000', signature: 'sig',
      },
    });
    const tokens = await refreshAccessToken(await clientFor('salesforce'), 'sf-rt');
    assert.equal(tokens.expiresAt, clock.now() + 7_200_000);
    assert.equal(tokens.refreshToken, null, 'Salesforce without rotation omits refresh_token (the stored one stays)');
    assert.equal(tokens.extra.instance_url, 'https://acme.my.salesforce.com');
  });

  it('missing expires_in → an integration can override the default lifetime', async () => {
    answer = () => ({ body: { access_token: 'at', token_type: 'Bearer' } });
    const tokens = await refreshAccessToken(await clientFor('salesforce', { defaultAccessTokenLifetimeSeconds: 900 }), 'rt');
    assert.equal(tokens.expiresAt, clock.now() + 900_000);
  });

  it('missing expires_in with a null default → non-expiring (custom)', async () => {
    answer = () => ({ body: { access_token: 'at', token_type: 'bearer' } });
    const tokens = await refreshAccessToken(await clientFor('custom'), 'rt');
    assert.equal(tokens.expiresAt, null);
  });

  it('a response without refresh_token keeps the old one when stored (RFC 6749 §6)', async () => {
    answer = () => ({ body: { access_token: 'at2', token_type: 'bearer', expires_in: 3600 } });
    const tokens = await refreshAccessToken(await clientFor('google'), 'google-rt');
    assert.equal(tokens.refreshToken, null, 'the response has none');
    assert.equal(tokens.accessToken, 'at2');
    const stored = nextStoredTokens({ access_token: 'at1', refresh_token: 'google-rt', id_token: 'id1' }, tokens);
    assert.deepEqual(stored, { access_token: 'at2', refresh_token: 'google-rt', id_token: 'id1' });
    const rotated = nextStoredTokens(stored, { ...tokens, refreshToken: 'google-rt-2', idToken: 'id2' });
    assert.deepEqual(rotated, { access_token: 'at2', refresh_token: 'google-rt-2', id_token: 'id2' });
  });

  it('a rotated refresh token replaces the old one', async () => {
    answer = () => ({ body: { access_token: 'at2', token_type: 'bearer', expires_in: 3600, refresh_token: 'rt-new' } });
    const tokens = await refreshAccessToken(await clientFor('custom'), 'rt-old');
    assert.equal(tokens.refreshToken, 'rt-new');
  });

  it('a missing token_type means bearer (LinkedIn leaves it out)', async () => {
    answer = () => ({ body: { access_token: 'at', expires_in: 5184000, refresh_token: 'r', refresh_token_expires_in: 31536000 } });
    const tokens = await refreshAccessToken(await clientFor('linkedin'), 'r');
    assert.equal(tokens.tokenType, 'Bearer');
    assert.equal(tokens.extra.refresh_token_expires_in, 31536000);
  });
});

describe('other grants and revocation against the local server', () => {
  it('client credentials: HTTP Basic, scopes joined, no refresh token', async () => {
    answer = () => ({ body: { access_token: 'system-at', token_type: 'bearer', expires_in: 600 } });
    const client = await clientFor('custom');
    const tokens = await requestClientCredentials(client, { scopes: ['read', 'write'] });
    const [request] = requests;
    assert.equal(request.form.get('grant_type'), 'client_credentials');
    assert.equal(request.form.get('scope'), 'read write');
    // RFC 6749 §2.3.1: id and secret are form-encoded before Base64.
    const [id, secret] = Buffer.from(String(request.headers.authorization).replace(/^Basic /, ''), 'base64').toString().split(':');
    assert.deepEqual([decodeURIComponent(id), decodeURIComponent(secret)], ['client-1', 'client-secret-1']);
    assert.equal(tokens.refreshToken, null);
    assert.equal(tokens.expiresAt, clock.now() + 600_000);
  });

  it('authorization code: state is checked, the verifier and redirect URI are sent', async () => {
    answer = () => ({ body: { access_token: 'at', token_type: 'bearer', expires_in: 3600, refresh_token: 'rt' } });
    const client = await clientFor('custom');
    const callback = new URLSearchParams({ code: 'the-code', state: 'state-1' });

    assert.ok(isTokenkeeperError(await failure(exchangeAuthorizationCode(client, { callbackParameters: callback, expectedState: 'other', codeVerifier: 'v' })), 'state_invalid'));
    assert.ok(isTokenkeeperError(await failure(exchangeAuthorizationCode(client, { callbackParameters: new URLSearchParams({ state: 'state-1' }), expectedState: 'state-1', codeVerifier: 'v' })), 'code_missing'));
    assert.ok(isTokenkeeperError(await failure(exchangeAuthorizationCode(client, { callbackParameters: new URLSearchParams({ error: 'access_denied', state: 'state-1' }), expectedState: 'state-1', codeVerifier: 'v' })), 'access_denied'));
    assert.ok(isTokenkeeperError(await failure(exchangeAuthorizationCode(client, { callbackParameters: new URLSearchParams({ error: 'server_error', state: 'state-1' }), expectedState: 'state-1', codeVerifier: 'v' })), 'provider_callback_error'));
    assert.equal(requests.length, 0, 'no token request for a bad callback');

    const verifier = 'v'.repeat(43);
    const { tokens, idTokenClaims } = await exchangeAuthorizationCode(client, { callbackParameters: callback, expectedState: 'state-1', codeVerifier: verifier });
    const [request] = requests;
    assert.equal(request.form.get('grant_type'), 'authorization_code');
    assert.equal(request.form.get('code'), 'the-code');
    assert.equal(request.form.get('code_verifier'), verifier);
    assert.equal(request.form.get('redirect_uri'), 'http://127.0.0.1/callback');
    assert.equal(tokens.refreshToken, 'rt');
    assert.equal(idTokenClaims, null);
  });

  it('authorization code: GitHub 200-with-error is an OAuth error (bad_verification_code)', async () => {
    answer = () => ({ status: 200, body: { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' } });
    const client = await clientFor('github');
    const error = await failure(exchangeAuthorizationCode(client, { callbackParameters: new URLSearchParams({ code: 'c', state: 's' }), expectedState: 's', codeVerifier: null }));
    assert.ok(error instanceof OAuthProviderError);
    assert.equal(error.error, 'bad_verification_code');
    assert.equal(requests[0].form.get('code_verifier'), null);
  });

  it('revocation: 200 revoked, unsupported_token_type unsupported, 503 transient, no endpoint unsupported', async () => {
    const client = await clientFor('custom', { revocationEndpoint: `${base}/revoke` });
    answer = () => ({ status: 200, body: '' });
    assert.equal(await revokeToken(client, 'rt-1', 'refresh_token'), 'revoked');
    assert.equal(requests[0].path, '/revoke');
    assert.equal(requests[0].form.get('token'), 'rt-1');
    assert.equal(requests[0].form.get('token_type_hint'), 'refresh_token');

    answer = () => ({ status: 400, body: { error: 'unsupported_token_type' } });
    assert.equal(await revokeToken(client, 'rt-1', 'refresh_token'), 'unsupported');

    answer = () => ({ status: 400, body: { error: 'invalid_token' } });
    assert.equal(await revokeToken(client, 'rt-1', 'refresh_token'), 'revoked');

    answer = () => ({ status: 503, headers: { 'retry-after': '30' }, body: 'down' });
    const result = classifyFailure(await failure(revokeToken(client, 'rt-1', 'refresh_token')), client.provider);
    assert.deepEqual([result.kind, result.code, result.retryAfterMs], ['transient', 'provider_unavailable', 30_000]);

    answer = () => ({ status: 401, body: { error: 'invalid_client' } });
    assert.ok((await failure(revokeToken(client, 'rt-1', 'refresh_token'))) instanceof OAuthProviderError);

    requests = [];
    assert.equal(await revokeToken(await clientFor('custom'), 'rt-1', 'refresh_token'), 'unsupported');
    assert.equal(requests.length, 0);
  });
});

describe('secrets stay out of sight', () => {
  it('the client secret is not enumerable and never serialized', async () => {
    const client = await clientFor('custom');
    assert.equal(client.clientSecret, 'client-secret-1');
    assert.doesNotMatch(JSON.stringify(client), /client-secret-1/);
    assert.ok(!Object.keys(client).includes('clientSecret'));
  });

  it('no error message carries the refresh token sent', async () => {
    const secret = 'rt-very-secret-value';
    const shapes: Answer[] = [
      { status: 400, body: { error: 'invalid_grant', error_description: `token ${secret} is dead` } },
      { status: 500, body: `stack trace with ${secret}` },
      { status: 200, body: `not json ${secret}` },
    ];
    for (const shape of shapes) {
      answer = () => shape;
      const client = await clientFor('custom');
      const error = (await failure(refreshAccessToken(client, secret))) as Error;
      const visible = `${error.message} ${JSON.stringify(error)} ${classifyFailure(error, client.provider).reason}`;
      assert.doesNotMatch(visible, new RegExp(secret));
    }
  });
});
