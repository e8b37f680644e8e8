/**
 * The proxy's target URL builder and header rules, case by case: every SSRF shape issue 9 names
 * is refused with `proxy_path_invalid`, and what is allowed goes exactly where the base URL says,
 * byte for byte as written. (The same shapes against a running server: test/proxy.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTokenkeeperError } from '../src/errors.ts';
import { apiBaseUrlOf, inboundHeaders, outboundHeaders, proxyTarget } from '../src/proxy/index.ts';
import { getProvider, validateIntegrationSettings } from '../src/providers/index.ts';

const BASE = 'https://api.example.com/v2';

function refused(path: string, base = BASE): string {
  let reason = '';
  assert.throws(
    () => proxyTarget(base, path),
    (error) => {
      assert.ok(isTokenkeeperError(error, 'proxy_path_invalid'), `${path}: ${String(error)}`);
      reason = String(error.details?.reason);
      return true;
    },
    path,
  );
  return reason;
}

describe('proxy target URL', () => {
  test('the base path plus the caller path and query, exactly as written', () => {
    assert.deepEqual(proxyTarget(BASE, '/users/me?fields=a,b&q=%20x'), {
      origin: 'https://api.example.com',
      protocol: 'https:',
      hostname: 'api.example.com',
      port: 443,
      path: '/v2/users/me?fields=a,b&q=%20x',
    });
    assert.equal(proxyTarget(`${BASE}/`, '/x').path, '/v2/x', 'a trailing slash on the base is not doubled');
    assert.equal(proxyTarget(BASE, '').path, '/v2');
    assert.equal(proxyTarget(BASE, '?a=1').path, '/v2?a=1');
    assert.equal(proxyTarget('https://slack.com/api', '/chat.postMessage').path, '/api/chat.postMessage');
    assert.equal(proxyTarget('https://api.github.com', '').path, '/');
    assert.equal(proxyTarget('http://127.0.0.1:8080', '/a%20b/c').port, 8080);
    assert.equal(proxyTarget('http://[::1]:9/x', '/y').hostname, '::1');
    // Lookalikes of a host stay path segments under the base host.
    assert.equal(proxyTarget(BASE, '/@evil.example/x').path, '/v2/@evil.example/x');
    assert.equal(proxyTarget(BASE, '/evil.example:8080/x').path, '/v2/evil.example:8080/x');
    assert.equal(proxyTarget(BASE, '/a/.well-known/x').path, '/v2/a/.well-known/x', 'a dot file is not a dot segment');
    assert.equal(proxyTarget(BASE, '/files/a%2Eb').path, '/v2/files/a%2Eb');
    assert.equal(proxyTarget(BASE, '/q?redirect=https%3A%2F%2Fx&p=../y').path, '/v2/q?redirect=https%3A%2F%2Fx&p=../y', 'the query is data');
  });

  test('every SSRF shape is refused before anything is sent', () => {
    const shapes = [
      'https://evil.example/x', // absolute URL (no leading slash)
      'evil.example/x',
      '//evil.example/x', // scheme-relative
      '/http://evil.example/x',
      '/https:%2F%2Fevil.example',
      '/a//b',
      '/..',
      '/../x',
      '/a/../../x',
      '/a/./b',
      '/%2e%2e/x',
      '/%2E%2E/x',
      '/.%2e/x',
      '/%2e/x',
      '/a%2f..%2f..%2fx',
      '/a%2F..',
      '/..%5cx',
      '/a\\..\\x',
      '/%252e%252e/x', // double encoding
      '/a%25252f',
      '/..;/x',
      '/.;jsessionid=1/x',
      '/a%00b',
      '/a%0d%0aHost:%20evil',
      '/a b',
      '/a#frag',
      '/caf\u00e9',
      '/%ff',
      '/a%zz',
      '/x?a=b c',
      '/x?a=%0a',
    ];
    for (const shape of shapes) refused(shape);
    assert.match(refused('/%252e%252e/x'), /encoded twice/);
    assert.match(refused('//evil.example/x'), /empty segment/);
  });

  test('API base URLs: catalog, placeholders, settings override, and nothing for custom', () => {
    assert.equal(apiBaseUrlOf(getProvider('google')!, {}, {}), 'https://www.googleapis.com');
    assert.equal(apiBaseUrlOf(getProvider('slack')!, {}, {}), 'https://slack.com/api');
    assert.equal(apiBaseUrlOf(getProvider('github')!, {}, {}), 'https://api.github.com');
    assert.equal(apiBaseUrlOf(getProvider('microsoft')!, {}, {}), 'https://graph.microsoft.com');
    assert.equal(apiBaseUrlOf(getProvider('spotify')!, {}, {}), 'https://api.spotify.com');
    assert.equal(apiBaseUrlOf(getProvider('sandbox')!, { issuer: 'http://127.0.0.1:3171/' }, {}), 'http://127.0.0.1:3171/api');
    assert.equal(apiBaseUrlOf(getProvider('salesforce')!, {}, { instance_url: 'https://acme.my.salesforce.com' }), 'https://acme.my.salesforce.com');
    assert.equal(apiBaseUrlOf(getProvider('github')!, { apiBaseUrl: 'https://ghe.example.com/api/v3' }, {}), 'https://ghe.example.com/api/v3');
    for (const [provider, settings, metadata] of [
      ['custom', {}, {}],
      ['oidc', {}, {}],
      ['salesforce', {}, {}],
      // A placeholder's value is checked like a configured URL.
      ['salesforce', {}, { instance_url: 'http://acme.my.salesforce.com' }],
      ['salesforce', {}, { instance_url: 'https://u:p@acme.my.salesforce.com' }],
    ] as const) {
      assert.throws(() => apiBaseUrlOf(getProvider(provider)!, settings, metadata), (error) => isTokenkeeperError(error, 'proxy_not_configured'), `${provider} ${JSON.stringify(metadata)}`);
    }
  });

  test('settings.apiBaseUrl is validated with the integration', () => {
    assert.deepEqual(validateIntegrationSettings('google', { apiBaseUrl: 'https://proxy.example.com/google' }), { ok: true, settings: { apiBaseUrl: 'https://proxy.example.com/google' } });
    const problems = (settings: unknown) => {
      const result = validateIntegrationSettings('google', settings);
      return result.ok ? [] : result.problems;
    };
    assert.match(problems({ apiBaseUrl: 'http://api.example.com' })[0]!, /^apiBaseUrl must be an absolute https URL/);
    assert.match(problems({ apiBaseUrl: 'https://api.example.com/?a=1' })[0]!, /^apiBaseUrl must not have a query or a fragment/);
    assert.match(problems({ apiBaseUrl: 'https://api.example.com/#x' })[0]!, /^apiBaseUrl must not have a query or a fragment/);
    assert.match(problems({ apiBaseUrl: 'https://user:secret@api.example.com' })[0]!, /^apiBaseUrl must not carry credentials/);
    assert.match(problems({ apiBaseUrl: 42 })[0]!, /^apiBaseUrl must be/);
  });
});

describe('proxy headers', () => {
  test('the caller’s Authorization, hop-by-hop headers and those Connection names are not forwarded', () => {
    const out = outboundHeaders(
      {
        authorization: 'Bearer tk_the_api_key',
        host: 'tokenkeeper.internal',
        connection: 'keep-alive, X-Hop',
        'keep-alive': 'timeout=5',
        'x-hop': 'per-connection',
        'proxy-authorization': 'Basic x',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        trailer: 'x-sum',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        cookie: 'session=1',
        'x-forwarded-for': '10.0.0.1',
        forwarded: 'for=10.0.0.1',
        'content-length': '999',
        'tokenkeeper-anything': 'x',
        accept: 'application/json',
        'idempotency-key': 'k-1',
        'x-goog-user-project': 'p',
      },
      'provider-token',
      12,
    );
    assert.deepEqual(out, {
      accept: 'application/json',
      'idempotency-key': 'k-1',
      'x-goog-user-project': 'p',
      'user-agent': 'tokenkeeper-proxy',
      'content-length': '12',
      authorization: 'Bearer provider-token',
    });
    assert.deepEqual(
      inboundHeaders({ 'content-type': 'text/plain', connection: 'close, X-Up', 'x-up': '1', 'transfer-encoding': 'chunked', 'tokenkeeper-token-refreshed': 'true', 'set-cookie': ['a=1', 'b=2'] }),
      { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] },
    );
  });
});
