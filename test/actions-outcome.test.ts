import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  ACTION_FAILURE_REASONS,
  ACTION_OUTCOMES,
  ActionReadError,
  actionErrorFor,
  actionPathProblem,
  actionResultError,
  classifyError,
  classifyOutcome,
  classifyResponse,
  isActionFailureReason,
  prepareAction,
  providerErrorCode,
  readActionResponse,
  type ActionDefinition,
  type ActionFailureReason,
} from '../src/actions/index.ts';
import { TokenkeeperError, isTokenkeeperError, type ErrorCode } from '../src/errors.ts';

describe('the bounded outcome reasons', () => {
  it('are exactly the issue’s set, the same for answers, events and metrics, plus ok', () => {
    assert.deepEqual(
      [...ACTION_FAILURE_REASONS],
      ['action_disabled', 'validation_error', 'connection_needs_reauth', 'token_unavailable', 'provider_rejected', 'provider_error', 'rate_limited', 'timeout', 'circuit_open'],
    );
    assert.deepEqual([...ACTION_OUTCOMES], ['ok', ...ACTION_FAILURE_REASONS]);
    assert.equal(isActionFailureReason('timeout'), true);
    assert.equal(isActionFailureReason('ok'), false);
    assert.equal(isActionFailureReason('teapot'), false);
  });
});

describe('classifying a provider answer', () => {
  const cases: Array<[number, Record<string, string>, string]> = [
    [200, {}, 'ok'],
    [201, {}, 'ok'],
    [202, {}, 'ok'],
    [204, {}, 'ok'],
    [400, {}, 'provider_rejected'],
    [401, {}, 'provider_rejected'],
    [403, {}, 'provider_rejected'],
    [403, { 'x-ratelimit-remaining': '0' }, 'rate_limited'],
    [403, { 'x-ratelimit-remaining': '12' }, 'provider_rejected'],
    [403, { 'retry-after': '60' }, 'rate_limited'],
    [404, {}, 'provider_rejected'],
    [410, {}, 'provider_rejected'],
    [422, {}, 'provider_rejected'],
    [429, {}, 'rate_limited'],
    [500, {}, 'provider_error'],
    [502, {}, 'provider_error'],
    [503, { 'retry-after': '5' }, 'provider_error'],
    [504, {}, 'provider_error'],
    [302, { location: 'https://elsewhere.example/' }, 'provider_error'],
  ];
  for (const [status, headers, outcome] of cases) {
    it(`${status} ${JSON.stringify(headers)} → ${outcome}`, () => {
      assert.equal(classifyResponse({ status, headers }), outcome);
      assert.equal(classifyOutcome({ response: { status, headers } }), outcome);
    });
  }
});

describe('classifying an error', () => {
  const tokenkeeperCases: Array<[ErrorCode, ActionFailureReason, ActionFailureReason]> = [
    // code, while getting the token, while calling the provider
    ['action_disabled', 'action_disabled', 'action_disabled'],
    ['invalid_request', 'validation_error', 'validation_error'],
    ['connection_needs_reauth', 'connection_needs_reauth', 'connection_needs_reauth'],
    ['connection_revoked', 'connection_needs_reauth', 'connection_needs_reauth'],
    ['connection_pending', 'connection_needs_reauth', 'connection_needs_reauth'],
    ['refresh_token_lost', 'connection_needs_reauth', 'connection_needs_reauth'],
    ['no_refresh_token', 'connection_needs_reauth', 'connection_needs_reauth'],
    ['circuit_open', 'circuit_open', 'circuit_open'],
    ['refresh_in_progress', 'token_unavailable', 'provider_error'],
    ['refresh_cooldown', 'token_unavailable', 'provider_error'],
    ['provider_unavailable', 'token_unavailable', 'provider_error'],
    ['integration_failing', 'token_unavailable', 'provider_error'],
    ['proxy_rate_limited', 'rate_limited', 'rate_limited'],
    ['proxy_timeout', 'timeout', 'timeout'],
    ['proxy_upstream_unreachable', 'provider_error', 'provider_error'],
    ['proxy_response_too_large', 'provider_error', 'provider_error'],
  ];
  for (const [code, duringToken, duringCall] of tokenkeeperCases) {
    it(`${code} → ${duringToken} (token), ${duringCall} (call)`, () => {
      assert.equal(classifyError(new TokenkeeperError(code), 'token'), duringToken);
      assert.equal(classifyError(new TokenkeeperError(code), 'call'), duringCall);
    });
  }

  it('takes the reason a Tokenkeeper error carries in details.outcome over its code', () => {
    const tagged = new TokenkeeperError('provider_unavailable', 'The outbound rate limit for this provider is exhausted; retry shortly.', { details: { outcome: 'rate_limited' } });
    assert.equal(classifyError(tagged, 'call'), 'rate_limited');
    assert.equal(classifyOutcome({ error: tagged, stage: 'token' }), 'rate_limited');
    const nonsense = new TokenkeeperError('provider_unavailable', undefined, { details: { outcome: 'teapot' } });
    assert.equal(classifyError(nonsense, 'call'), 'provider_error');
  });

  describe('from real network failures', () => {
    let silent: Server;
    let silentUrl: string;
    let closedUrl: string;
    before(async () => {
      silent = createServer(() => {
        // Never answers.
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
    });
    after(() => {
      silent.closeAllConnections();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it('a provider that does not answer in time → timeout', async () => {
      const error = await fetch(silentUrl, { signal: AbortSignal.timeout(100) }).catch((caught: unknown) => caught);
      assert.equal(classifyError(error, 'call'), 'timeout');
      assert.equal(classifyError(new TypeError('fetch failed', { cause: Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }) }), 'call'), 'timeout');
    });

    it('a refused connection → provider_error (and token_unavailable while getting the token)', async () => {
      const error = await fetch(closedUrl).catch((caught: unknown) => caught);
      assert.ok(error instanceof TypeError);
      assert.equal(classifyError(error, 'call'), 'provider_error');
      assert.equal(classifyError(error, 'token'), 'token_unavailable');
    });
  });
});

describe('reading an answer', () => {
  const echo: ActionDefinition = {
    name: 'test.echo',
    description: 'Echo.',
    providers: ['custom'],
    input: { type: 'object' } as never,
    build: () => ({ method: 'GET', path: '/' }),
  };

  it('gives a 2xx body as the result when the action has no read', () => {
    assert.deepEqual(readActionResponse(echo, { status: 200, headers: {}, body: { a: 1 } }, 0), { outcome: 'ok', status: 200, result: { a: 1 } });
  });

  it('never calls read for a non-2xx, and keeps only a short provider error code, never the body', () => {
    let called = false;
    const result = readActionResponse(
      { ...echo, read: () => ((called = true), {}) },
      { status: 429, headers: { 'retry-after': 'Wed, 04 Mar 2026 05:07:07 GMT' }, body: { error: { code: 'TooManyRequests', message: 'Slow down', details: 'x'.repeat(5_000) } } },
      Date.parse('2026-03-04T05:06:07Z'),
    );
    assert.equal(called, false);
    assert.deepEqual(result, { outcome: 'rate_limited', status: 429, message: 'The provider answered 429 (TooManyRequests).', providerError: 'TooManyRequests', retryAfterMs: 60_000 });
  });

  it('lets read turn a 2xx into a failure with ActionReadError, and treats any other throw as provider_error', () => {
    const refusing = { ...echo, read: () => { throw new ActionReadError('provider_rejected', 'No.', { providerError: 'nope' }); } };
    assert.deepEqual(readActionResponse(refusing, { status: 200, headers: {}, body: null }, 0), {
      outcome: 'provider_rejected', status: 200, message: 'No.', providerError: 'nope', retryAfterMs: null,
    });
    // A module in TOKENKEEPER_ACTIONS_DIR need not import Tokenkeeper: any error with a reason will do.
    const structural = { ...echo, read: () => { throw Object.assign(new Error('Acme rejected the ticket.'), { reason: 'provider_rejected', providerError: 'rejected' }); } };
    assert.deepEqual(readActionResponse(structural, { status: 200, headers: {}, body: null }, 0), {
      outcome: 'provider_rejected', status: 200, message: 'Acme rejected the ticket.', providerError: 'rejected', retryAfterMs: null,
    });
    const confused = { ...echo, read: (response: { body: unknown }) => (response.body as { deep: { field: unknown } }).deep.field };
    assert.deepEqual(readActionResponse(confused, { status: 200, headers: {}, body: 'not json' }, 0), {
      outcome: 'provider_error', status: 200, message: 'The provider answered 200 with a body test.echo could not read.', providerError: null, retryAfterMs: null,
    });
  });

  it('finds the provider error code in the shapes the providers document', () => {
    assert.equal(providerErrorCode({ ok: false, error: 'invalid_auth' }), 'invalid_auth');
    assert.equal(providerErrorCode({ error: { code: 'ErrorInvalidRecipients', message: '…' } }), 'ErrorInvalidRecipients');
    assert.equal(providerErrorCode({ error: { code: 400, message: 'Invalid to header', status: 'INVALID_ARGUMENT' } }), 'INVALID_ARGUMENT');
    assert.equal(providerErrorCode({ message: 'Not Found', documentation_url: 'https://docs.github.com' }), 'Not Found');
    assert.equal(providerErrorCode('<html>oops</html>'), null);
    assert.equal(providerErrorCode({ message: 'two\nlines' }), null);
    assert.equal(providerErrorCode({ error: 'x'.repeat(500) })!.length, 100);
  });

  it('turns a failed result into the API error, with details.outcome', () => {
    const cases: Array<[ActionFailureReason, ErrorCode, number]> = [
      ['provider_rejected', 'provider_rejected', 502],
      ['provider_error', 'provider_unavailable', 503],
      ['rate_limited', 'provider_unavailable', 503],
      ['timeout', 'proxy_timeout', 504],
      ['circuit_open', 'circuit_open', 503],
      ['action_disabled', 'action_disabled', 501],
      ['validation_error', 'invalid_request', 400],
      ['connection_needs_reauth', 'connection_needs_reauth', 409],
    ];
    for (const [outcome, code, status] of cases) {
      const error = actionResultError({ outcome, status: 418, message: 'm', providerError: 'e', retryAfterMs: 2_000 });
      assert.ok(isTokenkeeperError(error, code), outcome);
      assert.equal(error.status, status);
      assert.deepEqual(error.details, { outcome, provider_status: 418, provider_error: 'e' });
      assert.equal(error.retryAfterMs, 2_000);
    }
    const kept = actionErrorFor(new TokenkeeperError('refresh_in_progress', undefined, { retryAfterMs: 500 }), 'token_unavailable');
    assert.ok(isTokenkeeperError(kept, 'refresh_in_progress'));
    assert.deepEqual(kept.details, { outcome: 'token_unavailable' });
    assert.equal(kept.retryAfterMs, 500);
    const timedOut = actionErrorFor(new DOMException('The operation timed out.', 'TimeoutError'), 'timeout');
    assert.ok(isTokenkeeperError(timedOut, 'proxy_timeout'));
    assert.match(timedOut.message, /may or may not have acted/);
  });
});

describe('a built request stays under the API base URL', () => {
  it('refuses paths that could leave it, plain or percent-encoded', () => {
    for (const path of ['https://evil.example/x', '//evil.example/x', 'relative', '/a/../b', '/a/./b', '/a/%2e%2e/b', '/a/%2E%2E%2Fadmin', '/a/..%2f..%2fadmin', '/a\\b', '/a#frag', '/a b', '/a%zz']) {
      assert.notEqual(actionPathProblem(path), null, path);
    }
    for (const path of ['/', '/v1.0/me/sendMail', '/chat.postMessage', '/repos/o/r.js/issues', '/a/b?c=..&d=%2F', '/api/notes/note_1%2Fx']) {
      assert.equal(actionPathProblem(path), null, path);
    }
  });

  it('is an internal_error naming the action when its build goes wrong, and nothing is prepared', () => {
    const escaping: ActionDefinition = {
      name: 'acme.bad.path',
      description: 'Bad.',
      providers: ['custom'],
      input: { type: 'object' } as never,
      build: () => ({ method: 'POST', path: '/../../admin', headers: { Authorization: 'Bearer stolen' } }),
    };
    assert.throws(
      () => prepareAction(escaping, {}, { apiBaseUrl: 'https://acme.example', integration: { key: 'acme', provider: 'custom' }, now: new Date(0) }),
      (error) => isTokenkeeperError(error, 'internal_error') && error.message === 'The action acme.bad.path built an invalid request: path must not contain . or .. segments, plain or percent-encoded.',
    );
    const withToken: ActionDefinition = { ...escaping, build: () => ({ method: 'POST', path: '/x', headers: { Authorization: 'Bearer stolen' } }) };
    assert.throws(
      () => prepareAction(withToken, {}, { apiBaseUrl: 'https://acme.example', integration: { key: 'acme', provider: 'custom' }, now: new Date(0) }),
      /sets Authorization; the token is added by Tokenkeeper/,
    );
  });
});
