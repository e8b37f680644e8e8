/**
 * The provider's answer body as the proxy passes it on, with and without a `Content-Length`
 * (the two take different paths in src/proxy/response-limit.ts): a provider that hangs up
 * before or half-way through its body is `proxy_upstream_unreachable` — a 502 while nothing has
 * been passed on, a cut-off answer after — and never looks complete, nor does one whose provider
 * falls silent half-way; the integration's permit
 * goes back whenever the body ends, completely or not, and while a body is still streaming it
 * is still held.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { isTokenkeeperError } from '../src/errors.ts';
import { startHarness, type Harness } from './helpers/harness.ts';

type Handler = (res: ServerResponse) => void;

const handlers = new Map<string, Handler>();
const upstream = createServer((req, res) => {
  const handler = handlers.get(req.url!);
  if (handler) handler(res);
  else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});

/** Headers and the first `sent` of `declared` bytes, then the connection is dropped. */
function hangsUp(sent: number, declared: number | null): Handler {
  return (res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(declared === null ? {} : { 'content-length': String(declared) }) });
    if (sent > 0) res.write(Buffer.alloc(sent, 7));
    else res.flushHeaders();
    setTimeout(() => res.socket?.destroy(), 50);
  };
}

/** Headers and the first 10 bytes, then silence with the connection open. */
function stalls(declared: boolean): Handler {
  return (res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(declared ? { 'content-length': '100' } : {}) });
    res.write(Buffer.alloc(10, 7));
  };
}

/** The answer as a caller over HTTP gets it: status, and the body or the way it failed. */
function call(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      const done = (): void => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), complete: res.complete });
      res.on('end', done);
      res.on('error', done);
    });
    req.on('error', reject);
    req.end();
  });
}

const unreachable = (error: unknown): boolean =>
  isTokenkeeperError(error, 'proxy_upstream_unreachable') || isTokenkeeperError((error as { cause?: unknown }).cause, 'proxy_upstream_unreachable');

describe('the provider’s answer body', () => {
  let h: Harness;
  let port: number;
  let auth: Record<string, string>;
  let connection: string;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    h = await startHarness({ env: { TOKENKEEPER_PROXY_TIMEOUT_MS: '500' } });
    await h.http.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.http.app.server.address() as AddressInfo).port;
    auth = { authorization: `Bearer ${h.apiKey}` };
    // One call at a time: a permit that did not go back would stall every later call.
    const created = await h.api('POST', '/v1/integrations', {
      key: 'answers', provider: 'custom', client_id: 'c', client_secret: 's',
      settings: { authorizationEndpoint: `${upstreamUrl}/authorize`, tokenEndpoint: `${upstreamUrl}/token`, apiBaseUrl: upstreamUrl, rateLimit: { requestsPerMinute: 6000, concurrency: 1 } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const imported = await h.api('POST', '/v1/connections', { integration: 'answers', owner_id: 'u-1', account_id: 'a-1', access_token: 'answers-token', expires_in: 3600 });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    connection = imported.body.id;
  });

  after(async () => {
    await h?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  for (const declared of [true, false]) {
    const framing = declared ? 'with Content-Length' : 'chunked';

    test(`${framing}: a provider hanging up before its body is a 502 proxy_upstream_unreachable`, async () => {
      handlers.set('/none', hangsUp(0, declared ? 100 : null));
      const answer = await call(port, `/v1/proxy/${connection}/none`, auth);
      assert.equal(answer.status, 502, answer.body);
      assert.equal(JSON.parse(answer.body).error.code, 'proxy_upstream_unreachable');
      assert.equal(answer.complete, true, 'our own error answer is whole');

      const response = await h.tk.proxy.fetch(connection, '/none');
      assert.equal(response.status, 200);
      await assert.rejects(response.arrayBuffer(), unreachable);
    });

    test(`${framing}: a provider hanging up half-way gives an answer that ends early, never a complete one`, async () => {
      handlers.set('/half', hangsUp(10, declared ? 100 : null));
      const answer = await call(port, `/v1/proxy/${connection}/half`, auth);
      assert.equal(answer.status, 200);
      assert.equal(answer.complete, false);
      assert.ok(answer.body.length <= 10);

      const response = await h.tk.proxy.fetch(connection, '/half');
      await assert.rejects(response.arrayBuffer(), unreachable);
    });

    test(`${framing}: a provider falling silent half-way (TOKENKEEPER_PROXY_TIMEOUT_MS) gives an answer that ends early`, async () => {
      handlers.set('/stalls', stalls(declared));
      const answer = await call(port, `/v1/proxy/${connection}/stalls`, auth);
      assert.equal(answer.status, 200);
      assert.equal(answer.complete, false);

      const response = await h.tk.proxy.fetch(connection, '/stalls');
      await assert.rejects(response.arrayBuffer(), unreachable);
    });
  }

  test('the permit goes back after every body, whole or not, and is held while a body streams', async () => {
    // The one slot is free again after each of the failures above, or these would wait and fail.
    for (let i = 0; i < 3; i++) {
      const answer = await call(port, `/v1/proxy/${connection}/ok`, auth);
      assert.equal(answer.status, 200);
      assert.equal(answer.body, '{"ok":true}');
    }
    let finish: () => void = () => undefined;
    handlers.set('/streaming', (res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' });
      res.write('12345');
      finish = () => res.end('67890');
    });
    const streaming = await h.tk.proxy.fetch(connection, '/streaming');
    const reader = streaming.body!.getReader();
    await reader.read();
    // The first body has not ended: the only slot is still taken, so this call waits for it.
    let secondDone = false;
    const second = h.tk.proxy.fetch(connection, '/ok').then(async (response) => {
      secondDone = true;
      return response.text();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(secondDone, false, 'a second call went out while the first body was still streaming');
    finish();
    let rest = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) rest += Buffer.from(next.value).toString('utf8');
    assert.equal(rest, '67890');
    assert.equal(await second, '{"ok":true}');
  });
});
