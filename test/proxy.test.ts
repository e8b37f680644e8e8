/**
 * The authenticated proxy (issue 9, items 1-4) end to end: through the sandbox's demo API with
 * real tokens and refreshes, and through local HTTP servers that record exactly what arrives —
 * headers, paths, bodies — for what the sandbox cannot show. SSRF shapes go over a real socket
 * (light-my-request would normalise `..` away before the route saw it).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { isTokenkeeperError } from '../src/errors.ts';
import { newId } from '../src/ids.ts';
import { ProxyService } from '../src/proxy/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  bytes: number;
  sha256: string;
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void | Promise<void>;

/** A local HTTP server that records every request it gets (body hashed as it streams in). */
async function upstreamServer(): Promise<{ url: string; seen: Seen[]; handle(handler: Handler): void; nextBodyStarts(): Promise<void>; close(): Promise<void> }> {
  const seen: Seen[] = [];
  let handler: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  };
  let markFirstChunk: () => void = () => undefined;
  const server = createServer(async (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const head: Buffer[] = [];
    for await (const chunk of req) {
      if (bytes === 0) markFirstChunk();
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes <= 4096) head.push(chunk as Buffer);
    }
    const record = { method: req.method!, url: req.url!, headers: req.headers, bytes, sha256: hash.digest('hex'), body: Buffer.concat(head).toString('utf8') };
    seen.push(record);
    await handler(req, res, record);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    nextBodyStarts: () => new Promise<void>((resolve) => (markFirstChunk = resolve)),
    handle: (next) => (handler = next),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One request with exactly this request line and these headers (no URL normalisation). */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (const dialect of testDialects()) {
  describe(`proxy (${dialect})`, () => {
    let h: Harness;
    let port: number;
    let up: Awaited<ReturnType<typeof upstreamServer>>;
    let sandboxConnection: string;
    let upstreamConnection: string;
    let auth: Record<string, string>;

    before(async () => {
      h = await startHarness({ dialect, env: { TOKENKEEPER_PROXY_MAX_RESPONSE_BYTES: '65536', TOKENKEEPER_PROXY_TIMEOUT_MS: '1000' } });
      await h.http.app.listen({ port: 0, host: '127.0.0.1' });
      port = (h.http.app.server.address() as AddressInfo).port;
      auth = { authorization: `Bearer ${h.apiKey}` };
      up = await upstreamServer();
      sandboxConnection = await h.connect('proxy-user', 'pat');
      const created = await h.api('POST', '/v1/integrations', {
        key: 'upstream',
        provider: 'custom',
        client_id: 'upstream-client',
        client_secret: 'upstream-secret',
        settings: { authorizationEndpoint: `${up.url}/authorize`, tokenEndpoint: `${up.url}/token`, apiBaseUrl: `${up.url}/base` },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const imported = await h.api('POST', '/v1/connections', { integration: 'upstream', owner_id: 'u-1', account_id: 'acct-1', access_token: 'upstream-access-token', expires_in: 3600 });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      upstreamConnection = imported.body.id;
    });

    beforeEach(() => h.sandbox.resetFaults());

    after(async () => {
      await h?.close();
      await up?.close();
    });

    test('a proxied GET reaches the sandbox demo API with the connection’s token', async () => {
      const me = await h.api('GET', `/v1/proxy/${sandboxConnection}/me`);
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.email, 'pat@sandbox.test');
      const head = await h.api('HEAD', `/v1/proxy/${sandboxConnection}/me`);
      assert.equal(head.status, 200);
      assert.equal(head.body, null);
      assert.equal(head.headers['content-length'], me.headers['content-length']);
      assert.equal(me.headers['tokenkeeper-proxy-attempts'], '1');
      assert.equal(me.headers['tokenkeeper-token-refreshed'], 'false');

      // A paginated resource, followed page by page with the query passed through.
      const names: string[] = [];
      let token: string | null = null;
      do {
        const page = await h.api('GET', `/v1/proxy/${sandboxConnection}/items?page_size=10${token ? `&page_token=${token}` : ''}`);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        names.push(...page.body.items.map((item: { id: string }) => item.id));
        token = page.body.next_page_token;
      } while (token);
      assert.equal(names.length, 25);
      assert.equal(names.at(-1), 'item_25');

      // The writable resource: POST with a JSON body, then read back.
      const note = await h.api('POST', `/v1/proxy/${sandboxConnection}/notes`, { title: 'Hello', text: 'From the proxy' });
      assert.equal(note.status, 201, JSON.stringify(note.body));
      assert.match(note.body.id, /^note_\d+$/);
      assert.deepEqual({ title: note.body.title, text: note.body.text }, { title: 'Hello', text: 'From the proxy' });
      const listed = await h.api('GET', `/v1/proxy/${sandboxConnection}/notes`);
      assert.deepEqual(listed.body.notes.map((entry: { id: string }) => entry.id), [note.body.id]);
      const one = await h.api('GET', `/v1/proxy/${sandboxConnection}/notes/${note.body.id}`);
      assert.equal(one.body.title, 'Hello');

      // Provider errors are passed back as they are.
      const missing = await h.api('GET', `/v1/proxy/${sandboxConnection}/nothing-here`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error, 'not_found');
    });

    test('the caller’s Authorization and hop-by-hop headers stay here; method, path, query, body and the rest pass', async () => {
      up.seen.length = 0;
      up.handle((_req, res) => {
        res.writeHead(207, {
          'content-type': 'application/vnd.test+json',
          connection: 'X-Up-Hop',
          'x-up-hop': 'per-connection',
          'tokenkeeper-token-refreshed': 'forged',
          'x-provider-request-id': 'req-7',
        });
        res.end('{"written":true}');
      });
      const answer = await rawRequest(
        port,
        'PATCH',
        `/v1/proxy/${upstreamConnection}/things/a%20b;v=1/@x?filter=a,b&q=%C3%A9`,
        {
          ...auth,
          'content-type': 'application/json',
          connection: 'keep-alive, X-Hop',
          'keep-alive': 'timeout=5',
          'x-hop': 'drop me',
          'proxy-authorization': 'Basic c2VjcmV0',
          te: 'trailers',
          cookie: 'tk_session=1',
          'x-forwarded-for': '10.1.2.3',
          'tokenkeeper-internal': 'x',
          'x-keep': 'yes',
          'idempotency-key': 'idem-1',
          accept: 'application/vnd.test+json',
        },
        '{"name":"renamed"}',
      );
      assert.equal(answer.status, 207, answer.body);
      assert.equal(answer.body, '{"written":true}');
      assert.equal(answer.headers['content-type'], 'application/vnd.test+json');
      assert.equal(answer.headers['x-provider-request-id'], 'req-7');
      assert.equal(answer.headers['x-up-hop'], undefined);
      assert.equal(answer.headers['tokenkeeper-token-refreshed'], 'false', 'the provider cannot forge our headers');
      assert.ok(answer.headers['x-request-id'], 'our own request id');

      assert.equal(up.seen.length, 1);
      const [seen] = up.seen;
      assert.equal(seen!.method, 'PATCH');
      assert.equal(seen!.url, '/base/things/a%20b;v=1/@x?filter=a,b&q=%C3%A9');
      assert.equal(seen!.body, '{"name":"renamed"}');
      assert.equal(seen!.headers.authorization, 'Bearer upstream-access-token');
      assert.equal(seen!.headers.host, new URL(up.url).host);
      assert.equal(seen!.headers['content-type'], 'application/json');
      assert.equal(seen!.headers['content-length'], '18');
      assert.equal(seen!.headers['x-keep'], 'yes');
      assert.equal(seen!.headers['idempotency-key'], 'idem-1');
      assert.equal(seen!.headers.accept, 'application/vnd.test+json');
      for (const name of ['x-hop', 'keep-alive', 'proxy-authorization', 'te', 'cookie', 'x-forwarded-for', 'tokenkeeper-internal']) {
        assert.equal(seen!.headers[name], undefined, `${name} is not forwarded`);
      }
      assert.ok(!JSON.stringify(seen!.headers).includes(h.apiKey), 'the API key never reaches the provider');

      // A body without a Content-Type, and one sent in chunks, pass as they are too.
      up.seen.length = 0;
      const untyped = await rawRequest(port, 'POST', `/v1/proxy/${upstreamConnection}/raw`, { ...auth, 'content-length': '3' }, 'abc');
      assert.equal(untyped.status, 207, untyped.body);
      const chunked = await rawRequest(port, 'PUT', `/v1/proxy/${upstreamConnection}/raw`, { ...auth, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' }, 'a,b\n1,2\n');
      assert.equal(chunked.status, 207, chunked.body);
      assert.deepEqual(up.seen.map((seen) => [seen.method, seen.body, seen.headers['content-type'], seen.headers['content-length']]), [
        ['POST', 'abc', undefined, '3'],
        ['PUT', 'a,b\n1,2\n', 'text/csv', '8'],
      ]);
    });

    test('SSRF attempts of every shape are a 400 proxy_path_invalid and the provider sees nothing', async () => {
      up.seen.length = 0;
      up.handle((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('reached');
      });
      const base = `/v1/proxy/${upstreamConnection}`;
      const shapes = [
        `${base}//evil.example/x`,
        `${base}/http://evil.example/x`,
        `${base}/https:%2F%2Fevil.example`,
        `${base}/../x`,
        `${base}/a/../../../x`,
        `${base}/%2e%2e/token`,
        `${base}/.%2E/token`,
        `${base}/a%2f..%2f..%2ftoken`,
        `${base}/..%5ctoken`,
        `${base}/a\\..\\token`,
        `${base}/%252e%252e/token`,
        `${base}/..;/token`,
        `${base}/a%00b`,
        `${base}/a#fragment`,
        `http://evil.example${base}/x`,
      ];
      for (const path of shapes) {
        const answer = await rawRequest(port, 'GET', path, auth);
        assert.equal(answer.status, 400, `${path}: ${answer.body}`);
        assert.equal(JSON.parse(answer.body).error.code, 'proxy_path_invalid', path);
      }
      // An id that smuggles a path is not an id.
      const smuggled = await rawRequest(port, 'GET', `/v1/proxy/${upstreamConnection}%2F..%2F..%2Fx/y`, auth);
      assert.equal(smuggled.status, 400);
      assert.equal(JSON.parse(smuggled.body).error.code, 'invalid_id');
      const trace = await rawRequest(port, 'TRACE', `${base}/x`, auth);
      assert.equal(trace.status, 405);
      assert.equal(trace.headers.allow, 'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT');
      assert.equal(up.seen.length, 0, 'nothing was sent');

      // What looks like another host or port is only a path segment under the base URL.
      const lookalike = await rawRequest(port, 'GET', `${base}/@evil.example:8080/x`, auth);
      assert.equal(lookalike.status, 200, lookalike.body);
      assert.deepEqual(up.seen.map((seen) => seen.url), ['/base/@evil.example:8080/x']);
    });

    test('redirects are passed back, never followed', async () => {
      const elsewhere = await upstreamServer();
      try {
        up.handle((_req, res) => {
          res.writeHead(302, { location: `${elsewhere.url}/steal` });
          res.end();
        });
        const answer = await rawRequest(port, 'GET', `/v1/proxy/${upstreamConnection}/moved`, auth);
        assert.equal(answer.status, 302);
        assert.equal(answer.headers.location, `${elsewhere.url}/steal`);
        assert.equal(elsewhere.seen.length, 0, 'the token went nowhere else');
      } finally {
        await elsewhere.close();
      }
    });

    test('a 401 from the provider: one forced refresh, one retry with the new token', async () => {
      h.sandbox.resetStats();
      h.sandbox.setFaults({ apiNext401Count: 1 });
      const me = await h.api('GET', `/v1/proxy/${sandboxConnection}/me`);
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.headers['tokenkeeper-proxy-attempts'], '2');
      assert.equal(me.headers['tokenkeeper-token-refreshed'], 'true');
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 1);

      // Refused again after the refresh: passed back, and no second refresh.
      h.sandbox.resetStats();
      h.sandbox.setFaults({ apiNext401Count: 2 });
      const twice = await h.api('GET', `/v1/proxy/${sandboxConnection}/me`);
      assert.equal(twice.status, 401);
      assert.equal(twice.body.error, 'invalid_token');
      assert.equal(twice.headers['tokenkeeper-proxy-not-retried'], 'refreshed_token_refused');
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 1);

      // The next call's token (fresh from that refresh) refused at once: no refresh per call.
      h.sandbox.resetStats();
      h.sandbox.setFaults({ apiNext401Count: 1 });
      const fresh = await h.api('GET', `/v1/proxy/${sandboxConnection}/me`);
      assert.equal(fresh.status, 401);
      assert.equal(fresh.headers['tokenkeeper-proxy-not-retried'], 'token_just_refreshed');
      assert.equal(h.sandbox.stats().tokenRequests, 0);
      h.sandbox.resetFaults();
    });

    test('50 concurrent proxied calls after the token was invalidated: exactly one refresh', async () => {
      // A connection of its own, so the other connections' tokens keep working.
      const id = await h.connect('proxy-burst', 'bea');
      assert.equal((await h.api('GET', `/v1/proxy/${id}/me`)).status, 200);
      const { record } = await h.tk.connections.get(id);
      assert.ok((await h.sandbox.expireAccessTokens(record.accountId!)) > 0);
      h.sandbox.resetStats();
      const answers = await Promise.all(Array.from({ length: 50 }, () => h.api('GET', `/v1/proxy/${id}/me`)));
      assert.deepEqual([...new Set(answers.map((answer) => answer.status))], [200], JSON.stringify(answers.find((answer) => answer.status !== 200)?.body));
      assert.ok(answers.every((answer) => answer.body.email === 'bea@sandbox.test'));
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 1, 'one refresh at the provider');
      assert.equal(h.sandbox.stats().tokenRequests, 1);
    });

    test('429 with Retry-After: retried for GET, for POST only with an Idempotency-Key', async () => {
      h.sandbox.setFaults({ apiNext429Count: 1, retryAfterSeconds: 0 });
      const get = await h.api('GET', `/v1/proxy/${sandboxConnection}/me`);
      assert.equal(get.status, 200);
      assert.equal(get.headers['tokenkeeper-proxy-attempts'], '2');

      const before = (await h.api('GET', `/v1/proxy/${sandboxConnection}/notes`)).body.notes.length;
      h.sandbox.setFaults({ apiNext429Count: 1 });
      const post = await h.api('POST', `/v1/proxy/${sandboxConnection}/notes`, { title: 'Once', text: 'only' });
      assert.equal(post.status, 429);
      assert.equal(post.headers['retry-after'], '0');
      assert.equal(post.headers['tokenkeeper-proxy-attempts'], '1');
      assert.equal(post.headers['tokenkeeper-proxy-not-retried'], 'not_idempotent');
      assert.equal((await h.api('GET', `/v1/proxy/${sandboxConnection}/notes`)).body.notes.length, before, 'nothing was written');

      h.sandbox.setFaults({ apiNext429Count: 1 });
      const keyed = await h.api('POST', `/v1/proxy/${sandboxConnection}/notes`, { title: 'Keyed', text: 'retried' }, { 'idempotency-key': 'note-1' });
      assert.equal(keyed.status, 201, JSON.stringify(keyed.body));
      assert.equal(keyed.headers['tokenkeeper-proxy-attempts'], '2');

      // 503 likewise; a Retry-After beyond TOKENKEEPER_PROXY_MAX_RETRY_WAIT is passed back.
      h.sandbox.setFaults({ apiNext5xxCount: 1 });
      assert.equal((await h.api('GET', `/v1/proxy/${sandboxConnection}/me`)).headers['tokenkeeper-proxy-attempts'], '2');
      h.sandbox.setFaults({ apiNext429Count: 1, retryAfterSeconds: 3600 });
      const tooLong = await h.api('GET', `/v1/proxy/${sandboxConnection}/me`);
      assert.equal(tooLong.status, 429);
      assert.equal(tooLong.headers['tokenkeeper-proxy-not-retried'], 'retry_after_too_long');
      // Bounded: three 429s in a row with the default two retries.
      h.sandbox.setFaults({ apiNext429Count: 3, retryAfterSeconds: 0 });
      const exhausted = await h.api('GET', `/v1/proxy/${sandboxConnection}/me`);
      assert.equal(exhausted.status, 429);
      assert.equal(exhausted.headers['tokenkeeper-proxy-attempts'], '3');
      assert.equal(exhausted.headers['tokenkeeper-proxy-not-retried'], 'retries_exhausted');
      h.sandbox.resetFaults();
    });

    test('a connection that needs its user answers 409 connection_needs_reauth and nothing is sent', async () => {
      const id = await h.connect('proxy-doomed', 'dan');
      const { record } = await h.tk.connections.get(id);
      await h.sandbox.revokeGrants(record.accountId!);
      await assert.rejects(h.tk.tokens.forceRefresh(id), (error) => isTokenkeeperError(error, 'connection_needs_reauth'));
      // Point the sandbox integration's API at the recording server: it must hear nothing.
      const updated = await h.api('PATCH', '/v1/integrations/sandbox', { settings: { issuer: h.sandbox.issuer, apiBaseUrl: up.url } });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      try {
        up.seen.length = 0;
        const answer = await h.api('POST', `/v1/proxy/${id}/notes`, { title: 'x', text: 'y' });
        assert.equal(answer.status, 409);
        assert.equal(answer.body.error.code, 'connection_needs_reauth');
        assert.equal(up.seen.length, 0);
      } finally {
        await h.api('PATCH', '/v1/integrations/sandbox', { settings: { issuer: h.sandbox.issuer } });
      }
    });

    test('an integration without an API base URL answers 409 proxy_not_configured', async () => {
      await h.api('POST', '/v1/integrations', {
        key: 'no-api', provider: 'custom', client_id: 'c', client_secret: 's',
        settings: { authorizationEndpoint: `${up.url}/authorize`, tokenEndpoint: `${up.url}/token` },
      });
      const imported = await h.api('POST', '/v1/connections', { integration: 'no-api', owner_id: 'u-2', account_id: 'a-2', access_token: 'no-api-token', expires_in: 3600 });
      const answer = await h.api('GET', `/v1/proxy/${imported.body.id}/x`);
      assert.equal(answer.status, 409);
      assert.equal(answer.body.error.code, 'proxy_not_configured');
      assert.equal((await h.api('GET', `/v1/proxy/${newId('con')}/x`)).status, 404);
    });

    test('an answer larger than TOKENKEEPER_PROXY_MAX_RESPONSE_BYTES: 502 proxy_response_too_large, or cut off', async () => {
      up.handle((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(100_000) });
        res.end(Buffer.alloc(100_000, 1));
      });
      const declared = await rawRequest(port, 'GET', `/v1/proxy/${upstreamConnection}/big`, auth);
      assert.equal(declared.status, 502);
      assert.equal(JSON.parse(declared.body).error.code, 'proxy_response_too_large');

      // Without Content-Length the status is gone by the time it is too large: the answer ends early, never complete.
      up.handle((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(10_000, 2));
        res.end();
      });
      const response = await fetch(`http://127.0.0.1:${port}/v1/proxy/${upstreamConnection}/big-chunked`, { headers: auth });
      assert.equal(response.status, 200);
      await assert.rejects(response.arrayBuffer());

      await assert.rejects(
        (await h.tk.proxy.fetch(upstreamConnection, '/big-chunked')).arrayBuffer(),
        (error: Error) => isTokenkeeperError(error, 'proxy_response_too_large') || isTokenkeeperError((error as { cause?: unknown }).cause, 'proxy_response_too_large'),
      );
    });

    test('a provider slower than TOKENKEEPER_PROXY_TIMEOUT_MS: 504 proxy_timeout', async () => {
      up.handle(async (_req, res) => {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        res.end('late');
      });
      const answer = await h.api('GET', `/v1/proxy/${upstreamConnection}/slow`);
      assert.equal(answer.status, 504);
      assert.equal(answer.body.error.code, 'proxy_timeout');
      up.handle((_req, res) => {
        res.end('ok');
      });
    });

    test('a 20 MB request body streams through without being held, and arrives intact', { timeout: 30_000 }, async () => {
      up.handle((_req, res, seen) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes: seen.bytes, sha256: seen.sha256 }));
      });
      const total = 20 * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024);
      const expected = createHash('sha256');
      let sent = 0;
      let counter = 0;
      const arrived = up.nextBodyStarts();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          // Past 4 MB, wait until the provider has the first bytes: a proxy that buffered the
          // whole body before sending would never get there.
          if (sent === 4 * 1024 * 1024) await arrived;
          if (sent >= total) return controller.close();
          chunk.fill(counter++ % 251);
          expected.update(chunk);
          sent += chunk.length;
          controller.enqueue(new Uint8Array(chunk));
        },
      });
      const response = await fetch(`http://127.0.0.1:${port}/v1/proxy/${upstreamConnection}/upload`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body,
        duplex: 'half',
      } as RequestInit);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { bytes: total, sha256: expected.digest('hex') });
    });

    test('tk.proxy.fetch: the same proxy from the library, answering a standard Response', async () => {
      const me = await h.tk.proxy.fetch(sandboxConnection, '/me');
      assert.ok(me instanceof Response);
      assert.equal(me.status, 200);
      assert.equal(me.headers.get('tokenkeeper-proxy-attempts'), '1');
      assert.equal(((await me.json()) as { email: string }).email, 'pat@sandbox.test');
      const note = await h.tk.proxy.fetch(sandboxConnection, 'notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Lib', text: 'rary' }) });
      assert.equal(note.status, 201);
      assert.equal(((await note.json()) as { title: string }).title, 'Lib');
      await assert.rejects(h.tk.proxy.fetch(sandboxConnection, '/../token'), (error) => isTokenkeeperError(error, 'proxy_path_invalid'));
      await assert.rejects(h.tk.proxy.fetch(sandboxConnection, '/me', { method: 'TRACE' }), (error) => isTokenkeeperError(error, 'invalid_request'));
    });

    test('the integration’s own outbound limit: 429 proxy_rate_limited, nothing sent', async () => {
      await h.api('POST', '/v1/integrations', {
        key: 'limited', provider: 'custom', client_id: 'c', client_secret: 's',
        settings: { authorizationEndpoint: `${up.url}/authorize`, tokenEndpoint: `${up.url}/token`, apiBaseUrl: up.url, rateLimit: { requestsPerMinute: 1, concurrency: 1 } },
      });
      const imported = await h.api('POST', '/v1/connections', { integration: 'limited', owner_id: 'u-3', account_id: 'a-3', access_token: 'limited-token', expires_in: 3600 });
      // The service's own wiring, with no wait for the limiter (the harness clock does not move).
      const proxy = new ProxyService({ ...h.tk, guard: h.tk.tokens.guard, config: h.config.proxy, rateLimitWaitMs: 0 });
      try {
        up.seen.length = 0;
        const first = await proxy.fetch(imported.body.id, '/once');
        assert.equal(first.status, 200);
        await first.arrayBuffer();
        await assert.rejects(proxy.fetch(imported.body.id, '/twice'), (error) => isTokenkeeperError(error, 'proxy_rate_limited') && error.status === 429 && (error.retryAfterMs ?? 0) > 0);
        assert.deepEqual(up.seen.map((seen) => seen.url), ['/once']);
      } finally {
        proxy.close();
      }
      const metrics = (await h.http.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^tokenkeeper_proxy_rate_limited_total\{integration="limited",source="tokenkeeper"\} 1$/m);
    });

    test('no token and no API key in any log line', async () => {
      const secrets = [h.apiKey, 'upstream-access-token', (await h.tk.tokens.getToken(sandboxConnection)).accessToken];
      for (const line of h.logger.lines) for (const secret of secrets) assert.ok(!line.includes(secret), line);
      assert.ok(h.logger.lines.some((line) => line.includes('/v1/proxy/')), 'proxied calls were logged');
    });

    test('metrics: requests by integration, method and status class; latency; rate limited', async () => {
      const metrics = (await h.http.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^tokenkeeper_proxy_requests_total\{integration="sandbox",method="GET",status_class="2xx"\} \d+$/m);
      assert.match(metrics, /^tokenkeeper_proxy_requests_total\{integration="sandbox",method="POST",status_class="4xx"\} \d+$/m);
      assert.match(metrics, /^tokenkeeper_proxy_requests_total\{integration="upstream",method="GET",status_class="5xx"\} \d+$/m);
      assert.match(metrics, /^tokenkeeper_proxy_duration_seconds_count\{integration="sandbox"\} \d+$/m);
      assert.match(metrics, /^tokenkeeper_proxy_rate_limited_total\{integration="sandbox",source="provider"\} [1-9]\d*$/m);
    });
  });
}
