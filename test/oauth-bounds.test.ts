/**
 * Bounds on what a provider may send (issue 5, items 14–17): token lifetimes outside a sane
 * range, response bodies and tokens over a size cap, and `Retry-After` values that would park a
 * connection for days. Each is a transient provider fault, never a silently stored value. Run
 * against a real local HTTP server, which for the size caps streams a large body and counts
 * how much of it it managed to write before the client hung up.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../src/clock.ts';
import { isTokenkeeperError, type TokenkeeperError } from '../src/errors.ts';
import {
  classifyFailure, clearDiscoveryCache, fetchAccountIdentity, MAX_PROVIDER_RESPONSE_BYTES, MAX_RETRY_AFTER_MS, MAX_TOKEN_BYTES,
  MIN_TOKEN_LIFETIME_SECONDS, refreshAccessToken, requestClientCredentials, resolveProviderClient, revokeToken,
  salvagedRefreshToken, type ProviderClient,
} from '../src/oauth/index.ts';
import { MAX_LIFETIME_SECONDS, type IntegrationSettings } from '../src/providers/index.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let handler: Handler = (_req, res) => res.writeHead(500).end();

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  clearDiscoveryCache();
});

const clock = new ManualClock(Date.parse('2026-05-01T00:00:00Z'));

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

/**
 * A well-formed JSON body of `totalBytes` (a huge `access_token`), written with backpressure and
 * abandoned as soon as the client goes away. `written` resolves with the bytes handed to the
 * socket: without a cap the client would take all of them.
 */
function hugeBody(totalBytes: number, options: { contentLength?: boolean; status?: number } = {}): { handler: Handler; written: Promise<number> } {
  let resolveWritten!: (bytes: number) => void;
  const written = new Promise<number>((resolve) => (resolveWritten = resolve));
  const prefix = Buffer.from('{"token_type":"bearer","refresh_token":"rt-new","access_token":"');
  const suffix = Buffer.from('"}');
  const filler = Buffer.alloc(64 * 1024, 'a');
  return {
    written,
    handler: (_req, res) => {
      let sent = 0;
      res.on('close', () => resolveWritten(sent));
      res.writeHead(options.status ?? 200, {
        'content-type': 'application/json',
        ...(options.contentLength ? { 'content-length': String(totalBytes) } : {}),
      });
      const push = (): void => {
        if (sent === 0) {
          res.write(prefix);
          sent += prefix.length;
        }
        while (!res.destroyed && sent < totalBytes - suffix.length) {
          const chunk = filler.subarray(0, Math.min(filler.length, totalBytes - suffix.length - sent));
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', push);
            return;
          }
        }
        if (!res.destroyed) {
          sent += suffix.length;
          res.end(suffix);
        }
      };
      push();
    },
  };
}

async function clientFor(provider: string, settings: IntegrationSettings = {}): Promise<ProviderClient> {
  return resolveProviderClient(
    {
      key: `bounds-${provider}`,
      provider,
      clientId: 'client-1',
      clientSecret: 'client-secret-1',
      scopes: [],
      redirectUri: 'http://127.0.0.1/callback',
      settings: { authorizationEndpoint: `${base}/authorize`, tokenEndpoint: `${base}/token`, ...settings },
    },
    { clock },
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

function assertTransientInvalid(error: unknown, client: ProviderClient, reason: RegExp): void {
  assert.ok(isTokenkeeperError(error, 'invalid_provider_response'), String(error));
  const result = classifyFailure(error, client.provider);
  assert.deepEqual([result.kind, result.code], ['transient', 'invalid_provider_response']);
  assert.match(result.reason, reason);
}

/**
 * Large enough that what the client read (the 1 MiB cap) plus what loopback socket buffers absorb
 * after it hung up (a few MiB, ~11 MiB at Linux's largest autotuned sizes) stays well under half.
 */
const HUGE = 32 * 1024 * 1024;

describe('token lifetimes from a provider are bounded (items 14 and 16)', () => {
  const rejected: Array<[string, unknown, RegExp]> = [
    ['expires_in 0 (would refresh on every request)', 0, /expires_in of 0 s.*at least 5 s/],
    ['expires_in just under the floor', MIN_TOKEN_LIFETIME_SECONDS - 1, /at least 5 s/],
    ['expires_in 1e13 (an expires_at past 2^53 ms)', 1e13, /at most 315360000 s/],
    ['expires_in "1e13" as a numeric string', '10000000000000', /at most 315360000 s/],
    ['expires_in just over ten years', MAX_LIFETIME_SECONDS + 1, /at most 315360000 s/],
  ];
  for (const [name, expiresIn, reason] of rejected) {
    it(`${name} → transient invalid_provider_response; the rotated refresh token is salvaged`, async () => {
      handler = json({ access_token: 'at', token_type: 'bearer', expires_in: expiresIn, refresh_token: 'rt-rotated' });
      const client = await clientFor('custom');
      const error = await failure(refreshAccessToken(client, 'rt-old'));
      assertTransientInvalid(error, client, reason);
      assert.equal(salvagedRefreshToken(error), 'rt-rotated');
      assert.doesNotMatch(`${JSON.stringify(error)} ${String(error)}`, /rt-rotated/);
    });
  }

  it('client credentials: expires_in 0 is the same provider fault', async () => {
    handler = json({ access_token: 'system-at', token_type: 'bearer', expires_in: 0 });
    const client = await clientFor('custom');
    assertTransientInvalid(await failure(requestClientCredentials(client)), client, /expires_in of 0 s/);
  });

  it('accepts lifetimes at the edges and the long-lived ones providers document (LinkedIn 60 days)', async () => {
    const client = await clientFor('custom');
    for (const seconds of [MIN_TOKEN_LIFETIME_SECONDS, 60, 5_184_000, 31_536_000, MAX_LIFETIME_SECONDS]) {
      handler = json({ access_token: 'at', token_type: 'bearer', expires_in: seconds });
      const tokens = await refreshAccessToken(client, 'rt');
      assert.equal(tokens.expiresAt, clock.now() + seconds * 1000, String(seconds));
      assert.ok(Number.isSafeInteger(tokens.expiresAt));
    }
  });

  it('refresh-token lifetimes out of range never reach the metadata; sane ones are kept', async () => {
    const client = await clientFor('custom');
    handler = json({
      access_token: 'at', token_type: 'bearer', expires_in: 3600,
      refresh_token_expires_in: 1e13, x_refresh_token_expires_in: -1, refresh_expires_in: 'forever',
    });
    const broken = await refreshAccessToken(client, 'rt');
    assert.equal(broken.accessToken, 'at', 'a bad refresh-token lifetime is metadata: the refresh itself succeeds');
    assert.deepEqual(broken.extra, {});

    handler = json({
      access_token: 'at', token_type: 'bearer', expires_in: 3600,
      refresh_token_expires_in: 15_897_600, x_refresh_token_expires_in: '8726400', refresh_expires_in: 1800,
    });
    const sane = await refreshAccessToken(client, 'rt');
    assert.deepEqual(sane.extra, { refresh_token_expires_in: 15_897_600, x_refresh_token_expires_in: 8_726_400, refresh_expires_in: 1800 });
  });
});

describe('Retry-After is capped at a hard ceiling (item 15)', () => {
  it('429 with Retry-After 86400000 s, or a date in 9999, gives at most MAX_RETRY_AFTER_MS', async () => {
    const client = await clientFor('custom');
    for (const value of ['86400000', 'Fri, 31 Dec 9999 23:59:59 GMT', '99999999999999999999999']) {
      handler = json({ error: 'slow_down' }, 429, { 'retry-after': value });
      const result = classifyFailure(await failure(refreshAccessToken(client, 'rt')), client.provider);
      assert.deepEqual([result.kind, result.code, result.retryAfterMs], ['transient', 'provider_unavailable', MAX_RETRY_AFTER_MS], value);
    }
    assert.equal(MAX_RETRY_AFTER_MS, 24 * 60 * 60 * 1000);
  });
});

describe('response bodies and tokens have a size cap (item 17)', () => {
  it('a 32 MiB token response is abandoned after the cap: transient, and the server could not send it all', async () => {
    const huge = hugeBody(HUGE);
    handler = huge.handler;
    const client = await clientFor('custom');
    const error = await failure(refreshAccessToken(client, 'rt-old'));
    assertTransientInvalid(error, client, /larger than 1048576 bytes/);
    assert.deepEqual((error as TokenkeeperError).details, { endpoint: 'token', status: 200, reason: 'body_too_large', limit_bytes: MAX_PROVIDER_RESPONSE_BYTES });
    const written = await huge.written;
    assert.ok(written < HUGE / 2, `the server wrote ${written} bytes before the client hung up`);
  });

  it('a Content-Length over the cap is refused before reading the body', async () => {
    const huge = hugeBody(HUGE, { contentLength: true });
    handler = huge.handler;
    const client = await clientFor('custom');
    assertTransientInvalid(await failure(refreshAccessToken(client, 'rt-old')), client, /larger than 1048576 bytes/);
    assert.ok((await huge.written) < HUGE / 2);
  });

  it('the cap also holds for error answers, revocation, userinfo and discovery', async () => {
    const cases: Array<[string, () => Promise<unknown>, number]> = [
      ['token endpoint 400', async () => refreshAccessToken(await clientFor('custom'), 'rt'), 400],
      ['revocation', async () => revokeToken(await clientFor('custom', { revocationEndpoint: `${base}/revoke` }), 'rt', 'refresh_token'), 200],
      ['userinfo', async () => fetchAccountIdentity(await clientFor('custom', { userinfoEndpoint: `${base}/userinfo` }), {
        tokens: { accessToken: 'at', refreshToken: null, idToken: null, tokenType: 'Bearer', expiresAt: null, scopes: null, extra: {} },
        idTokenClaims: null,
      }), 200],
    ];
    for (const [name, call, status] of cases) {
      const huge = hugeBody(HUGE, { status });
      handler = huge.handler;
      const error = await failure(call());
      assert.ok(isTokenkeeperError(error, 'invalid_provider_response'), `${name}: ${String(error)}`);
      assert.match((error as Error).message, /larger than 1048576 bytes/, name);
      assert.ok((await huge.written) < HUGE / 2, name);
    }

    const huge = hugeBody(HUGE);
    handler = huge.handler;
    const error = await failure(resolveProviderClient(
      { key: 'bounds-oidc', provider: 'oidc', clientId: 'c', clientSecret: null, scopes: [], redirectUri: 'http://127.0.0.1/cb', settings: { issuer: base } },
      { clock },
    ));
    assert.ok(isTokenkeeperError(error, 'provider_unavailable'), String(error));
    assert.match(JSON.stringify(error.details), /larger than 1048576 bytes/);
    assert.ok((await huge.written) < HUGE / 2);
  });

  it('an access token over the token cap is refused; the rotated refresh token is still salvaged', async () => {
    handler = json({ access_token: 'a'.repeat(MAX_TOKEN_BYTES + 1), token_type: 'bearer', expires_in: 3600, refresh_token: 'rt-rotated' });
    const client = await clientFor('custom');
    const error = await failure(refreshAccessToken(client, 'rt-old'));
    assertTransientInvalid(error, client, /access_token larger than 16384 bytes/);
    assert.equal(salvagedRefreshToken(error), 'rt-rotated');
  });

  it('a refresh token over the cap is refused and not salvaged (it could not be stored either)', async () => {
    handler = json({ access_token: 'at', token_type: 'bearer', expires_in: 3600, refresh_token: 'r'.repeat(MAX_TOKEN_BYTES + 1) });
    const client = await clientFor('custom');
    const error = await failure(refreshAccessToken(client, 'rt-old'));
    assertTransientInvalid(error, client, /refresh_token larger than 16384 bytes/);
    assert.equal(salvagedRefreshToken(error), null);
  });

  it('an ID token over the cap is refused; the cap counts UTF-8 bytes', async () => {
    handler = json({ access_token: 'at', token_type: 'bearer', expires_in: 3600, id_token: 'i'.repeat(MAX_TOKEN_BYTES + 1) });
    const client = await clientFor('custom');
    assertTransientInvalid(await failure(refreshAccessToken(client, 'rt-old')), client, /id_token larger than 16384 bytes/);

    handler = json({ access_token: 'é'.repeat(MAX_TOKEN_BYTES / 2 + 1), token_type: 'bearer', expires_in: 3600 });
    assertTransientInvalid(await failure(refreshAccessToken(client, 'rt-old')), client, /access_token larger than 16384 bytes/);
  });

  it('accepts tokens up to the cap (Microsoft-sized JWTs are far below it) and bodies up to the body cap', async () => {
    const client = await clientFor('custom');
    handler = json({ access_token: 'a'.repeat(MAX_TOKEN_BYTES), token_type: 'bearer', expires_in: 3600, refresh_token: 'r'.repeat(MAX_TOKEN_BYTES) });
    const tokens = await refreshAccessToken(client, 'rt');
    assert.equal(tokens.accessToken.length, MAX_TOKEN_BYTES);

    const padding = 'p'.repeat(MAX_PROVIDER_RESPONSE_BYTES - 200);
    handler = json({ access_token: 'at', token_type: 'bearer', expires_in: 3600, padding });
    assert.equal((await refreshAccessToken(client, 'rt')).extra.padding, padding);
  });
});
