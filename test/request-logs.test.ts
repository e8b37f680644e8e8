/**
 * Request logs as an operator reads them: one logger (pino) for the application and for
 * Fastify's request logging, every request with an id that the caller can quote back (header,
 * error body) and that is on every line the request causes, levels that page nobody for a
 * client's hang-up or a provider's blip, and redaction that hides secrets without hiding the
 * error codes an operator searches for.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildHttpApp } from '../src/http/index.ts';
import { createMemoryLogger, redact } from '../src/logger.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

type Entry = Record<string, any>;

function entries(logger: { lines: string[] }): Entry[] {
  return logger.lines.map((line) => JSON.parse(line) as Entry);
}

for (const dialect of testDialects()) {
  describe(`request ids (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('an x-request-id is kept: in the response header, in the error body and on the request log line', async () => {
      const response = await h.api('GET', '/v1/connections/con_aaaaaaaaaaaaaaaaaaaa', undefined, { 'x-request-id': 'trace-abc-123' });
      assert.equal(response.status, 404);
      assert.equal(response.headers['x-request-id'], 'trace-abc-123');
      assert.deepEqual(Object.keys(response.body.error).sort(), ['code', 'message', 'request_id']);
      assert.equal(response.body.error.request_id, 'trace-abc-123');
      const completed = entries(h.logger).filter((entry) => entry.request_id === 'trace-abc-123' && entry.msg === 'request completed');
      assert.equal(completed.length, 1, h.logger.lines.join(''));
      assert.equal(completed[0]!.status_code, 404);
      assert.equal(completed[0]!.method, 'GET');
      assert.equal(completed[0]!.error_code, 'connection_not_found');
    });

    test('without one, or with one that is too long or not printable ASCII, an id is generated', async () => {
      const generated: string[] = [];
      for (const given of [undefined, 'x'.repeat(201), 'ünïcode-id']) {
        const response = await h.api('GET', '/v1/integrations', undefined, given === undefined ? {} : { 'x-request-id': given });
        assert.equal(response.status, 200);
        const id = String(response.headers['x-request-id']);
        assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `generated for ${String(given)}`);
        generated.push(id);
      }
      assert.equal(new Set(generated).size, 3, 'every request gets its own id');
      const kept = await h.api('GET', '/v1/integrations', undefined, { 'x-request-id': 'y'.repeat(200) });
      assert.equal(kept.headers['x-request-id'], 'y'.repeat(200), '200 characters are accepted');
    });

    test('lines logged by domain code during the request carry its id', async () => {
      const id = await h.connect('ids-retry', 'ida');
      h.clock.advance(100_000);
      h.sandbox.setFaults({ next5xxCount: 1, retryAfterSeconds: 0 });
      const response = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`, undefined, { 'x-request-id': 'retry-req-1' });
      h.sandbox.resetFaults();
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const retried = entries(h.logger).filter((entry) => entry.msg === 'token endpoint failed transiently, retrying');
      assert.ok(retried.length >= 1, 'the retry is logged');
      assert.ok(retried.every((entry) => entry.request_id === 'retry-req-1'), JSON.stringify(retried));
    });
  });
}

for (const dialect of testDialects()) {
  describe(`levels and redaction of request lines (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    const linesOf = (requestId: string): Entry[] => entries(h.logger).filter((entry) => entry.request_id === requestId);

    test('a 401 is a warn line with its code; the presented key is not logged', async () => {
      const wrongKey = `tk_${'W'.repeat(43)}`;
      const response = await h.api('GET', '/v1/integrations', undefined, { authorization: `Bearer ${wrongKey}`, 'x-request-id': 'unauth-1' });
      assert.equal(response.status, 401);
      assert.equal(response.body.error.request_id, 'unauth-1');
      const lines = linesOf('unauth-1');
      const warned = lines.filter((entry) => entry.level === 'warn');
      assert.equal(warned.length, 1, JSON.stringify(lines));
      assert.equal(warned[0]!.code, 'unauthorized');
      assert.ok(!h.logger.lines.join('').includes(wrongKey), 'the wrong key is not logged');
    });

    test('a 5xx from a bug is an error line with its code and the error, not "[redacted]"', async () => {
      const logger = createMemoryLogger();
      const http = await buildHttpApp(
        { ...h.tk, logger },
        {
          extend: (app) =>
            app.get('/v1/boom', async () => {
              throw new Error('kaboom in a handler');
            }),
        },
      );
      try {
        const response = await http.app.inject({ method: 'GET', url: '/v1/boom', headers: { authorization: `Bearer ${h.apiKey}`, 'x-request-id': 'boom-1' } });
        assert.equal(response.statusCode, 500);
        assert.equal(response.json().error.code, 'internal_error');
        assert.equal(response.json().error.request_id, 'boom-1');
        assert.doesNotMatch(response.body, /kaboom/, 'the cause stays in the log');
        const failed = entries(logger).filter((entry) => entry.request_id === 'boom-1' && entry.level === 'error');
        assert.equal(failed.length, 1, logger.lines.join(''));
        assert.equal(failed[0]!.msg, 'request failed');
        assert.equal(failed[0]!.code, 'internal_error');
        assert.equal(failed[0]!.status_code, 500);
        assert.match(JSON.stringify(failed[0]!.error), /kaboom in a handler/);
        assert.ok(!logger.lines.join('').includes('[redacted]'), logger.lines.join(''));
      } finally {
        await http.app.close();
      }
    });

    test("an embedding application's own Logger receives the request lines, redacted, with their ids", async () => {
      const received: Array<{ level: string; message: string; fields: Record<string, unknown> | undefined }> = [];
      const own = {
        debug: (message: string, fields?: Record<string, unknown>) => received.push({ level: 'debug', message, fields }),
        info: (message: string, fields?: Record<string, unknown>) => received.push({ level: 'info', message, fields }),
        warn: (message: string, fields?: Record<string, unknown>) => received.push({ level: 'warn', message, fields }),
        error: (message: string, fields?: Record<string, unknown>) => received.push({ level: 'error', message, fields }),
        child: () => own,
      };
      const http = await buildHttpApp({ ...h.tk, logger: own });
      try {
        const wrongKey = `tk_${'Q'.repeat(43)}`;
        const response = await http.app.inject({ method: 'GET', url: '/v1/integrations', headers: { authorization: `Bearer ${wrongKey}`, 'x-request-id': 'own-1' } });
        assert.equal(response.statusCode, 401);
        const mine = received.filter((line) => line.fields?.request_id === 'own-1');
        assert.deepEqual(mine.map((line) => [line.level, line.message]), [['debug', 'request received'], ['warn', 'request unauthorized'], ['info', 'request completed']]);
        assert.ok(!JSON.stringify(received).includes(wrongKey));
      } finally {
        await http.app.close();
      }
    });

    test('a 503 for a transient provider failure is a warn line, never an error line', async () => {
      const id = await h.connect('levels-503', 'lev');
      h.clock.advance(100_000);
      h.sandbox.setFaults({ errorRate5xx: 1 });
      const response = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`, undefined, { 'x-request-id': 'transient-1' });
      const cooling = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`, undefined, { 'x-request-id': 'transient-2' });
      h.sandbox.resetFaults();
      assert.equal(response.status, 503);
      assert.equal(response.body.error.code, 'provider_unavailable');
      assert.equal(cooling.body.error.code, 'refresh_cooldown');
      for (const [requestId, code] of [['transient-1', 'provider_unavailable'], ['transient-2', 'refresh_cooldown']] as const) {
        const lines = linesOf(requestId);
        assert.ok(!lines.some((entry) => entry.level === 'error'), JSON.stringify(lines));
        const failed = lines.find((entry) => entry.msg === 'request failed');
        assert.equal(failed?.level, 'warn', JSON.stringify(lines));
        assert.equal(failed?.code, code);
      }
    });

    test('a token read is a debug line with the route and status, and the token is nowhere in the logs', async () => {
      const id = await h.connect('levels-read', 'reader');
      const response = await h.api('GET', `/v1/connections/${id}/token`, undefined, { 'x-request-id': 'read-1' });
      assert.equal(response.status, 200);
      const lines = linesOf('read-1');
      const completed = lines.find((entry) => entry.msg === 'request completed');
      assert.equal(completed?.level, 'debug', JSON.stringify(lines));
      assert.equal(completed?.route, '/v1/connections/:id/token');
      assert.equal(completed?.status_code, 200);
      assert.ok(!lines.some((entry) => entry.level !== 'debug'), JSON.stringify(lines));
      assert.ok(!h.logger.lines.join('').includes(response.body.access_token), 'no access token in the logs');
    });

    test('the connect link token and the callback code are not in the request lines', async () => {
      const session = await h.api('POST', '/v1/connect/sessions', { integration: 'sandbox', owner_id: 'levels-link' });
      const link = new URL(session.body.connect_url);
      const linkToken = link.pathname.split('/').at(-1)!;
      await h.http.app.inject({ method: 'GET', url: link.pathname, headers: { 'x-request-id': 'link-1' } });
      await h.http.app.inject({ method: 'GET', url: '/oauth/callback?code=secret-code-value-123&state=some-state-456', headers: { 'x-request-id': 'cb-1' } });
      const logs = h.logger.lines.join('');
      assert.ok(!logs.includes(linkToken), 'connect link token logged');
      assert.ok(!logs.includes('secret-code-value-123'), 'authorization code logged');
      assert.ok(!logs.includes('some-state-456'), 'state logged');
      const link1 = linesOf('link-1').find((entry) => entry.msg === 'request completed');
      assert.equal(link1?.route, '/connect/:token');
      assert.equal(link1?.status_code, 302);
    });

    test('a client that hangs up mid-request is an info line, not an error', async () => {
      const id = await h.connect('levels-hangup', 'hang');
      h.clock.advance(100_000);
      await h.http.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = h.http.app.server.address() as AddressInfo;
      h.sandbox.setFaults({ latencyMs: 400 });
      h.sandbox.resetStats();
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(`GET /v1/connections/${id}/token?min_validity=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.apiKey}\r\nX-Request-Id: hangup-1\r\n\r\n`);
      await until(() => (h.sandbox.stats().byGrantType.refresh_token ?? 0) >= 1, 'the refresh to reach the provider');
      socket.destroy();
      await until(() => linesOf('hangup-1').some((entry) => entry.msg === 'request aborted'), 'the hang-up to be logged');
      // The refresh the request started still finishes and commits; its late answer goes nowhere.
      await until(() => entries(h.logger).some((entry) => entry.msg === 'connection event' && entry.event === 'token.refreshed' && entry.connection_id === id), 'the refresh to finish');
      await until(async () => (await h.api('GET', `/v1/connections/${id}/token?min_validity=60`)).status === 200, 'the token to be served');
      h.sandbox.resetFaults();
      const lines = linesOf('hangup-1');
      assert.equal(lines.find((entry) => entry.msg === 'request aborted')?.level, 'info');
      assert.ok(!lines.some((entry) => entry.level === 'error' || entry.level === 'warn'), JSON.stringify(lines));
    });
  });
}

describe('redaction', () => {
  test('secret fields by exact name, in any spelling; error codes and useful fields stay', () => {
    const out = redact({
      code: 'provider_unavailable',
      error_code: 'invalid_grant',
      access_token: 'a1',
      refresh_token: 'r1',
      id_token: 'i1',
      accessToken: 'a2',
      client_secret: 's1',
      clientSecret: 's2',
      code_verifier: 'v1',
      password: 'p1',
      authorization: 'Bearer zzz',
      cookie: 'sid=1',
      api_key: 'k1',
      'x-api-key': 'k2',
      token: 't1',
      headers: { authorization: 'Basic abc', 'content-type': 'application/json' },
      token_type: 'Bearer',
      token_endpoint: 'https://idp.example/token',
      tokenCount: 3,
      has_refresh_token: true,
      refresh_token_expires_at: null,
      connectionId: 'con_x',
      client_id: 'my-client',
    }) as Record<string, any>;
    for (const key of ['access_token', 'refresh_token', 'id_token', 'accessToken', 'client_secret', 'clientSecret', 'code_verifier', 'password', 'authorization', 'cookie', 'api_key', 'x-api-key', 'token']) {
      assert.equal(out[key], '[redacted]', key);
    }
    assert.equal(out.headers.authorization, '[redacted]');
    assert.equal(out.headers['content-type'], 'application/json');
    assert.equal(out.code, 'provider_unavailable');
    assert.equal(out.error_code, 'invalid_grant');
    assert.equal(out.token_type, 'Bearer');
    assert.equal(out.token_endpoint, 'https://idp.example/token');
    assert.equal(out.tokenCount, 3);
    assert.equal(out.has_refresh_token, true);
    assert.equal(out.refresh_token_expires_at, null);
    assert.equal(out.connectionId, 'con_x');
    assert.equal(out.client_id, 'my-client');
  });

  test('secret-shaped values anywhere: bearer credentials, JWTs, API keys, secret query parameters, connect links', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl';
    const apiKey = `tk_${'A'.repeat(43)}`;
    const out = redact({
      reason: `provider said: Authorization: Bearer opaque-token-123 rejected`,
      detail: `id_token ${jwt} did not verify`,
      note: `key ${apiKey} is revoked`,
      url: 'https://app.test/cb?code=abc123&state=st456&scope=openid',
      fragment: 'https://app.test/cb#access_token=frag789&token_type=Bearer',
      link: 'http://127.0.0.1:3170/connect/linktoken-abcdefghijklmnop?x=1',
      plain: 'nothing secret here: code=42 is a number in prose',
    }) as Record<string, string>;
    const text = JSON.stringify(out);
    for (const secret of ['opaque-token-123', jwt, apiKey, 'abc123', 'st456', 'frag789', 'linktoken-abcdefghijklmnop']) {
      assert.ok(!text.includes(secret), `${secret} in ${text}`);
    }
    assert.match(out.url!, /scope=openid/);
    assert.match(out.fragment!, /token_type=Bearer/);
    assert.equal(out.plain, 'nothing secret here: code=42 is a number in prose');
  });

  test('errors are reduced to name, code and message; an OAuth error keeps its error code', () => {
    const error = Object.assign(new Error('refresh failed'), { code: 'provider_error', error: 'invalid_grant', body: { refresh_token: 'r-secret' } });
    const out = redact({ error }) as Record<string, any>;
    assert.deepEqual(out.error, { name: 'Error', message: 'refresh failed', code: 'provider_error', error: 'invalid_grant' });
  });
});
