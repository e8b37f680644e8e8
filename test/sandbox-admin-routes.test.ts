/**
 * The sandbox's `/_sandbox/*` switches take no credentials (loopback only), so a page in the
 * developer's browser must not be able to use them: a browser names the page behind a POST in
 * `Origin` and `Sec-Fetch-Site`, and a POST named from anywhere but the sandbox itself is
 * refused before it changes anything. Tools (curl, Node's fetch, the tests) send neither and
 * keep working.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createMemoryLogger } from '../src/logger.ts';
import { startSandbox, type SandboxServer } from '../src/sandbox/index.ts';

/** A POST with exactly these headers (fetch would add its own Host and refuse to set Origin freely). */
function rawPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('sandbox admin routes refuse cross-site browser requests', () => {
  let sandbox: SandboxServer;
  before(async () => {
    sandbox = await startSandbox({ logger: createMemoryLogger() });
  });
  after(async () => sandbox.close());

  test('a cross-origin text/plain POST (what any web page can send without a preflight) changes nothing', async () => {
    const host = new URL(sandbox.issuer).host;
    const attempts: [string, Record<string, string>][] = [
      ['/_sandbox/faults', { host, origin: 'https://evil.example', 'content-type': 'text/plain' }],
      ['/_sandbox/faults', { host, origin: 'null', 'content-type': 'text/plain' }],
      ['/_sandbox/faults', { host, 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' }],
      // Tokenkeeper's own page on the next port is the same site, but not the same origin.
      ['/_sandbox/faults', { host, origin: 'http://127.0.0.1:3170', 'sec-fetch-site': 'same-site', 'content-type': 'text/plain' }],
      // A DNS-rebinding page: its name in Host and Origin agree, but it is not a loopback name.
      ['/_sandbox/faults', { host: `rebound.example:${sandbox.port}`, origin: `http://rebound.example:${sandbox.port}`, 'sec-fetch-site': 'same-origin', 'content-type': 'text/plain' }],
      ['/_sandbox/faults', { host, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }],
    ];
    for (const [path, headers] of attempts) {
      const response = await rawPost(`${sandbox.issuer}${path}`, headers, '{"errorRate5xx":1}');
      assert.equal(response.status, 403, JSON.stringify(headers));
      assert.equal(JSON.parse(response.body).error.code, 'cross_origin_request');
    }
    assert.equal(sandbox.faults().errorRate5xx, 0, 'the faults are unchanged');

    sandbox.setFaults({ errorRate429: 1 });
    for (const path of ['/_sandbox/faults/reset', '/_sandbox/revoke', '/_sandbox/stats/reset']) {
      const response = await rawPost(`${sandbox.issuer}${path}`, { host, origin: 'https://evil.example', 'content-type': 'text/plain' }, '');
      assert.equal(response.status, 403, path);
    }
    assert.equal(sandbox.faults().errorRate429, 1, 'the reset was refused');
    sandbox.resetFaults();
  });

  test('tools and the sandbox itself still work: no Origin, or the sandbox\'s own origin', async () => {
    const viaFetch = await fetch(`${sandbox.issuer}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"errorRate5xx":0.5}' });
    assert.equal(viaFetch.status, 200);
    assert.equal(sandbox.faults().errorRate5xx, 0.5);

    const host = new URL(sandbox.issuer).host;
    const sameOrigin = await rawPost(`${sandbox.issuer}/_sandbox/faults`, { host, origin: sandbox.issuer, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, '{"errorRate5xx":0.25}');
    assert.equal(sameOrigin.status, 200, sameOrigin.body);
    assert.equal(sandbox.faults().errorRate5xx, 0.25);

    // A person typing the URL (Sec-Fetch-Site: none) and curl without -H (a form content type).
    const typed = await rawPost(`${sandbox.issuer}/_sandbox/faults/reset`, { host, 'sec-fetch-site': 'none' }, '');
    assert.equal(typed.status, 200);
    const curl = await rawPost(`${sandbox.issuer}/_sandbox/faults`, { host, 'content-type': 'application/x-www-form-urlencoded' }, '{"errorRate5xx":0.1}');
    assert.equal(curl.status, 200, curl.body);
    assert.equal(sandbox.faults().errorRate5xx, 0.1);
    sandbox.resetFaults();
  });
});
