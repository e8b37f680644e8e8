/**
 * `client.proxyFetch` of the typed HTTP client against a real Tokenkeeper listening on a real
 * port: through the sandbox's demo API with a real connection, and through a local HTTP server
 * that records exactly what arrives (headers, path, body) for what the sandbox cannot show.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createClient, type TokenkeeperClient } from '../src/client/index.ts';
import { newId } from '../src/ids.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { rejection } from './helpers/api-rejection.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const answerOk: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
};

/** A local provider API that records every request it gets, answering with the current handler. */
async function recordingServer(): Promise<{ url: string; seen: Seen[]; handle(handler: Handler): void; close(): Promise<void> }> {
  const seen: Seen[] = [];
  let handler = answerOk;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    await handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    handle: (next) => (handler = next),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}


for (const dialect of testDialects()) {
  describe(`client.proxyFetch against a running server (${dialect})`, () => {
    let h: Harness;
    let url: string;
    let client: TokenkeeperClient;
    let sandboxConnection: string;
    let up: Awaited<ReturnType<typeof recordingServer>>;
    let upstreamConnection: string;

    before(async () => {
      h = await startHarness({ dialect, env: { TOKENKEEPER_PROXY_TIMEOUT_MS: '2000' } });
      url = await h.http.app.listen({ port: 0, host: '127.0.0.1' });
      client = createClient({ url, apiKey: h.apiKey });
      sandboxConnection = await h.connect('proxy-client', 'pat');
      up = await recordingServer();
      const created = await h.api('POST', '/v1/integrations', {
        key: 'recorded',
        provider: 'custom',
        client_id: 'recorded-client',
        client_secret: 'recorded-secret',
        settings: { authorizationEndpoint: `${up.url}/authorize`, tokenEndpoint: `${up.url}/token`, apiBaseUrl: `${up.url}/base` },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const imported = await h.api('POST', '/v1/connections', { integration: 'recorded', owner_id: 'u-1', account_id: 'acct-1', access_token: 'recorded-access-token', expires_in: 3600 });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      upstreamConnection = imported.body.id;
    });

    beforeEach(() => {
      h.sandbox.resetFaults();
      up.handle(answerOk);
      up.seen.length = 0;
    });

    after(async () => {
      // After an aborted call, Node's fetch opens a spare connection that never sends a request;
      // the server would wait for it until its headers timeout (a minute) before closing.
      h?.http.app.server.closeAllConnections();
      await h?.close();
      await up?.close();
    });

    test('a GET with a query: the provider’s status and JSON, page after page', async () => {
      const first = await client.proxyFetch(sandboxConnection, '/items?page_size=10');
      assert.ok(first instanceof Response);
      assert.equal(first.status, 200);
      assert.match(first.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(first.headers.get('tokenkeeper-proxy-attempts'), '1');
      assert.equal(first.headers.get('tokenkeeper-token-refreshed'), 'false');
      const page = (await first.json()) as { items: { id: string }[]; next_page_token: string | null };
      assert.equal(page.items.length, 10);
      assert.ok(page.next_page_token);

      const ids = page.items.map((item) => item.id);
      let token: string | null = page.next_page_token;
      while (token) {
        // Without the leading "/": relative to the API base URL all the same.
        const next = (await (await client.proxyFetch(sandboxConnection, `items?page_size=10&page_token=${encodeURIComponent(token)}`)).json()) as typeof page;
        ids.push(...next.items.map((item) => item.id));
        token = next.next_page_token;
      }
      assert.equal(ids.length, 25);
      assert.equal(ids.at(-1), 'item_25');

      const head = await client.proxyFetch(sandboxConnection, '/me', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
    });

    test('a POST with a JSON body reaches the provider and is written there', async () => {
      const created = await client.proxyFetch(sandboxConnection, '/notes', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'Hello', text: 'From the client' }),
      });
      assert.equal(created.status, 201);
      const note = (await created.json()) as { id: string; title: string; text: string };
      assert.deepEqual({ title: note.title, text: note.text }, { title: 'Hello', text: 'From the client' });
      const read = await client.proxyFetch(sandboxConnection, `/notes/${note.id}`);
      assert.equal(read.status, 200);
      assert.equal(((await read.json()) as { text: string }).text, 'From the client');
    });

    test('bodies of every kind fetch takes arrive as they were sent, a stream too', async () => {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const part of ['a,b\n', '1,2\n', '3,4\n']) controller.enqueue(new TextEncoder().encode(part));
          controller.close();
        },
      });
      const streamed = await client.proxyFetch(upstreamConnection, '/upload', { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: stream });
      assert.equal(streamed.status, 200);
      const form = await client.proxyFetch(upstreamConnection, '/form', { method: 'POST', body: new URLSearchParams({ q: 'a b', n: '1' }) });
      assert.equal(form.status, 200);
      const bytes = await client.proxyFetch(upstreamConnection, '/bytes', { method: 'patch', body: new Uint8Array([104, 105]) });
      assert.equal(bytes.status, 200);
      assert.deepEqual(
        up.seen.map((seen) => [seen.method, seen.url, seen.body, seen.headers['content-type']]),
        [
          ['PUT', '/base/upload', 'a,b\n1,2\n3,4\n', 'text/csv'],
          ['POST', '/base/form', 'q=a+b&n=1', 'application/x-www-form-urlencoded;charset=UTF-8'],
          ['PATCH', '/base/bytes', 'hi', undefined],
        ],
      );
    });

    test('a provider 4xx is a Response, not an error', async () => {
      const missing = await client.proxyFetch(sandboxConnection, '/nothing-here');
      assert.equal(missing.status, 404);
      assert.deepEqual(((await missing.json()) as { error: string }).error, 'not_found');

      // Refused again after the one refresh: the provider's 401, passed back with why.
      h.sandbox.setFaults({ apiNext401Count: 2 });
      const refused = await client.proxyFetch(sandboxConnection, '/me');
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get('tokenkeeper-proxy-attempts'), '2');
      assert.equal(refused.headers.get('tokenkeeper-proxy-not-retried'), 'refreshed_token_refused');
      assert.equal(((await refused.json()) as { error: string }).error, 'invalid_token');

      // A provider answering in Tokenkeeper's own error shape is still the provider's answer.
      up.handle((_req, res) => {
        res.writeHead(409, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'connection_needs_reauth', message: 'the provider’s own words' } }));
      });
      const lookalike = await client.proxyFetch(upstreamConnection, '/conflict');
      assert.equal(lookalike.status, 409);
      assert.equal(((await lookalike.json()) as { error: { message: string } }).error.message, 'the provider’s own words');
    });

    test('Tokenkeeper’s own refusals are thrown as TokenkeeperApiError with their code', async () => {
      const unknown = await rejection(client.proxyFetch(newId('con'), '/me'));
      assert.equal(unknown.status, 404);
      assert.equal(unknown.code, 'connection_not_found');
      assert.ok(unknown.requestId, 'the server’s request id');

      // A path that stays as written on the way, refused by the server.
      for (const path of ['//evil.example/x', '/a%2F..%2Fb', '/x%252e']) {
        const error = await rejection(client.proxyFetch(upstreamConnection, path));
        assert.equal(error.status, 400, path);
        assert.equal(error.code, 'proxy_path_invalid', path);
        assert.ok(error.requestId, `${path}: answered by the server`);
      }
      // A path fetch's URL parsing would rewrite, refused before anything is sent: `/../x` and
      // the like would otherwise leave /v1/proxy/ for Tokenkeeper's own API.
      for (const path of ['/../x', '/a/../../../connections', '/%2e%2E/token', '/a\\..\\b', '/a b', '/é', '/x#top']) {
        const error = await rejection(client.proxyFetch(upstreamConnection, path));
        assert.equal(error.status, 400, path);
        assert.equal(error.code, 'proxy_path_invalid', path);
        assert.match(error.message, /Nothing was sent\.$/);
        assert.equal(error.requestId, null, `${path}: refused by the client`);
      }
      assert.equal(up.seen.length, 0, 'the provider heard nothing');

      // The id is one path segment, whatever it holds.
      assert.equal((await rejection(client.proxyFetch(`${upstreamConnection}/../..`, '/x'))).code, 'invalid_id');
      for (const id of ['..', '.']) {
        const dots = await rejection(client.proxyFetch(id, '/x'));
        assert.equal(dots.code, 'invalid_id');
        assert.equal(dots.requestId, null, 'refused by the client: URL parsing would resolve it even encoded');
      }

      const wrongKey = await rejection(createClient({ url, apiKey: 'tk_wrong' }).proxyFetch(sandboxConnection, '/me'));
      assert.equal(wrongKey.status, 401);
      assert.equal(wrongKey.code, 'unauthorized');

      await h.api('POST', '/v1/integrations', {
        key: 'no-api', provider: 'custom', client_id: 'c', client_secret: 's',
        settings: { authorizationEndpoint: `${up.url}/authorize`, tokenEndpoint: `${up.url}/token` },
      });
      const imported = await h.api('POST', '/v1/connections', { integration: 'no-api', owner_id: 'u-2', account_id: 'a-2', access_token: 'no-api-token', expires_in: 3600 });
      const notConfigured = await rejection(client.proxyFetch(imported.body.id, '/x'));
      assert.equal(notConfigured.status, 409);
      assert.equal(notConfigured.code, 'proxy_not_configured');
      assert.equal(up.seen.length, 0);
    });

    test('a connection that needs its user: 409 connection_needs_reauth', async () => {
      const id = await h.connect('proxy-client-doomed', 'dan');
      const { record } = await h.tk.connections.get(id);
      await h.sandbox.revokeGrants(record.accountId!);
      await h.sandbox.expireAccessTokens(record.accountId!);
      const error = await rejection(client.proxyFetch(id, '/me'));
      assert.equal(error.status, 409);
      assert.equal(error.code, 'connection_needs_reauth');
    });

    test('the client’s API key stays with Tokenkeeper: the provider gets the connection’s token', async () => {
      const answer = await client.proxyFetch(upstreamConnection, '/who', { headers: { authorization: 'Bearer set-by-the-caller', 'x-keep': 'yes' } });
      assert.equal(answer.status, 200);
      assert.equal(up.seen.length, 1);
      const [seen] = up.seen;
      assert.equal(seen!.headers.authorization, 'Bearer recorded-access-token');
      assert.equal(seen!.headers['x-keep'], 'yes');
      const sent = JSON.stringify(seen!.headers);
      assert.ok(!sent.includes(h.apiKey), 'the API key never reaches the provider');
      assert.ok(!sent.includes('set-by-the-caller'));

      // And the sandbox takes the connection's token: the caller's would be refused there.
      const me = await client.proxyFetch(sandboxConnection, '/me');
      assert.equal(((await me.json()) as { email: string }).email, 'pat@sandbox.test');
    });

    test('a provider redirect comes back as it is, never followed', async () => {
      up.handle((_req, res) => {
        res.writeHead(302, { location: '/v1/api-keys' });
        res.end();
      });
      const answer = await client.proxyFetch(upstreamConnection, '/moved');
      assert.equal(answer.status, 302);
      assert.equal(answer.headers.get('location'), '/v1/api-keys');
      assert.deepEqual(up.seen.map((seen) => seen.url), ['/base/moved']);
    });

    test('a provider that hangs up before its first body byte: thrown as Tokenkeeper’s own error', async () => {
      up.handle((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip', 'x-provider': 'p' });
        res.flushHeaders();
        setTimeout(() => res.socket?.destroy(), 50);
      });
      const error = await rejection(client.proxyFetch(upstreamConnection, '/broken'));
      assert.equal(error.status, 502);
      assert.equal(error.code, 'proxy_upstream_unreachable');

      // On the wire: Tokenkeeper's error body with none of the provider's headers.
      const raw = await fetch(`${url}/v1/proxy/${upstreamConnection}/broken`, { headers: { authorization: `Bearer ${h.apiKey}` } });
      assert.equal(raw.status, 502);
      assert.equal(raw.headers.get('content-encoding'), null);
      assert.equal(raw.headers.get('x-provider'), null);
      assert.equal(raw.headers.get('tokenkeeper-proxy-attempts'), null);
      assert.equal(((await raw.json()) as { error: { code: string } }).error.code, 'proxy_upstream_unreachable');
    });

    test('signal aborts a call in flight; timeoutMs bounds the wait for the answer', async () => {
      let release: () => void = () => undefined;
      up.handle(async (_req, res) => {
        await new Promise<void>((resolve) => {
          release = resolve;
          setTimeout(resolve, 1_500);
        });
        answerOk(_req, res);
      });
      const controller = new AbortController();
      const call = client.proxyFetch(upstreamConnection, '/slow', { signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      await assert.rejects(call, { name: 'AbortError' });
      release();

      const impatient = createClient({ url, apiKey: h.apiKey, timeoutMs: 100 });
      await assert.rejects(impatient.proxyFetch(upstreamConnection, '/slow'), { name: 'TimeoutError' });
      release();
      // Once the headers are in, the timeout no longer applies: the body is the caller's to read.
      up.handle((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first ');
        setTimeout(() => res.end('last'), 300);
      });
      const slowBody = await impatient.proxyFetch(upstreamConnection, '/drip');
      assert.equal(await slowBody.text(), 'first last');
    });
  });
}
