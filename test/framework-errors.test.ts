/**
 * Failures that happen before a route runs (a URL that cannot be decoded, bytes that are not
 * HTTP, a body that is not JSON or is too large) answer in the API's one error shape, with a
 * request id, not in Fastify's or Node's own bodies. Sent over a real socket: `inject()` cannot
 * produce malformed HTTP.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** Writes `request` as raw bytes and reads until the server closes or the body is complete. */
async function raw(port: number, request: string | Buffer): Promise<RawResponse> {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(received.slice(0, end));
      if (length && Buffer.byteLength(received.slice(end + 4), 'latin1') >= Number(length[1])) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('end', () => resolve(received));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.write(request);
  });
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no HTTP response: ${JSON.stringify(text)}`);
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  const bodyText = text.slice(end + 4);
  let body: unknown = bodyText;
  try {
    body = JSON.parse(bodyText);
  } catch {
    // not JSON: the assertion below shows it
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

function assertErrorShape(response: RawResponse, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response));
  assert.match(response.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(typeof response.body, 'object', `not JSON: ${JSON.stringify(response.body)}`);
  assert.deepEqual(Object.keys(response.body), ['error']);
  assert.equal(response.body.error.code, code);
  assert.equal(typeof response.body.error.message, 'string');
  assert.equal(typeof response.body.error.request_id, 'string');
  assert.ok(response.body.error.request_id.length > 0);
}

for (const dialect of testDialects()) {
  describe(`framework-level failures answer in the documented error shape (${dialect})`, () => {
    let h: Harness;
    let port: number;
    before(async () => {
      h = await startHarness({ dialect, env: { TOKENKEEPER_MAX_BODY_BYTES: '1024' } });
      await h.http.app.listen({ port: 0, host: '127.0.0.1' });
      port = (h.http.app.server.address() as AddressInfo).port;
    });
    after(async () => h.close());

    test('GET /% (a URL that cannot be decoded) is invalid_request with a request id', async () => {
      const response = await raw(port, 'GET /% HTTP/1.1\r\nHost: x\r\nX-Request-Id: bad-url-1\r\nConnection: close\r\n\r\n');
      assertErrorShape(response, 400, 'invalid_request');
      assert.equal(response.body.error.request_id, 'bad-url-1');
      assert.equal(response.headers['x-request-id'], 'bad-url-1');
      const line = h.logger.lines.map((text) => JSON.parse(text)).find((entry) => entry.request_id === 'bad-url-1' && entry.msg === 'request completed');
      assert.equal(line?.status_code, 400, h.logger.lines.join(''));
    });

    test('bytes that are not HTTP get a raw 400 in the error shape', async () => {
      const response = await raw(port, 'THIS IS NOT HTTP\r\n\r\n');
      assertErrorShape(response, 400, 'invalid_request');
      const header = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n');
      assertErrorShape(header, 400, 'invalid_request');
      const huge = await raw(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(70_000)}\r\n\r\n`);
      assertErrorShape(huge, 431, 'headers_too_large');
    });

    test('a JSON body that does not parse is invalid_json', async () => {
      const body = '{"integration": ';
      const response = await raw(
        port,
        `POST /v1/connect/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      assertErrorShape(response, 400, 'invalid_json');
    });

    test('a body over the limit is payload_too_large, by Content-Length and by chunks', async () => {
      const body = JSON.stringify({ integration: 'sandbox', owner_id: 'x'.repeat(2_000) });
      const declared = await raw(
        port,
        `POST /v1/connect/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      assertErrorShape(declared, 413, 'payload_too_large');
      const chunked = await raw(
        port,
        `POST /v1/connect/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.apiKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      );
      assertErrorShape(chunked, 413, 'payload_too_large');
    });

    test('a body with a content type other than JSON is unsupported_media_type', async () => {
      const response = await raw(
        port,
        `POST /v1/connect/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.apiKey}\r\nContent-Type: text/xml\r\nContent-Length: 4\r\nConnection: close\r\n\r\n<a/>`,
      );
      assertErrorShape(response, 415, 'unsupported_media_type');
    });

    test('none of these is an error-level log line', () => {
      const errors = h.logger.lines.filter((line) => line.includes('"level":"error"'));
      assert.deepEqual(errors, []);
    });
  });
}
