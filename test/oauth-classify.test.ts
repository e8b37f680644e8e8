import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as oauth4webapi from 'oauth4webapi';
import { TokenkeeperError } from '../src/errors.ts';
import { classifyFailure, MAX_RETRY_AFTER_MS, OAuthProviderError, parseRetryAfter, type Classification } from '../src/oauth/index.ts';
import { getProvider } from '../src/providers/index.ts';

const custom = getProvider('custom')!;
const github = getProvider('github-app')!;
const slack = getProvider('slack')!;
const google = getProvider('google')!;

function oauthError(status: number, body: Record<string, unknown>, retryAfterMs?: number, endpoint: 'token' | 'revocation' = 'token'): OAuthProviderError {
  return new OAuthProviderError({ status, body, endpoint, retryAfterMs });
}

function summary(result: Classification): [string, string, string | null, number | null] {
  return [result.kind, result.code, result.providerError, result.retryAfterMs];
}

describe('classifyFailure: the classification table', () => {
  const cases: Array<[string, unknown, typeof custom, [string, string, string | null, number | null]]> = [
    // RFC 6749 §5.2: permanent for a refresh.
    ['invalid_request', oauthError(400, { error: 'invalid_request' }), custom, ['permanent', 'connection_needs_reauth', 'invalid_request', null]],
    ['invalid_grant', oauthError(400, { error: 'invalid_grant' }), custom, ['permanent', 'connection_needs_reauth', 'invalid_grant', null]],
    ['unsupported_grant_type', oauthError(400, { error: 'unsupported_grant_type' }), custom, ['permanent', 'connection_needs_reauth', 'unsupported_grant_type', null]],
    ['invalid_scope', oauthError(400, { error: 'invalid_scope' }), custom, ['permanent', 'connection_needs_reauth', 'invalid_scope', null]],
    // RFC 6749 §5.2 codes that blame the client: the integration's fault, never the user's.
    ['invalid_client (401)', oauthError(401, { error: 'invalid_client' }), custom, ['integration', 'integration_failing', 'invalid_client', null]],
    ['invalid_client (400)', oauthError(400, { error: 'invalid_client' }), custom, ['integration', 'integration_failing', 'invalid_client', null]],
    ['unauthorized_client', oauthError(400, { error: 'unauthorized_client' }), custom, ['integration', 'integration_failing', 'unauthorized_client', null]],
    ['HTTP 401 from the token endpoint, whatever the code', oauthError(401, { error: 'invalid_grant' }), custom, ['integration', 'integration_failing', 'invalid_grant', null]],
    ['HTTP 401 with an unknown code', oauthError(401, { error: 'access_denied' }), custom, ['integration', 'integration_failing', 'access_denied', null]],
    ['a 401 from the revocation endpoint with another code is not the integration', oauthError(401, { error: 'weird' }, undefined, 'revocation'), custom, ['transient', 'provider_error', 'weird', null]],
    ['GitHub incorrect_client_credentials', oauthError(400, { error: 'incorrect_client_credentials' }), github, ['integration', 'integration_failing', 'incorrect_client_credentials', null]],
    ['Slack bad_client_secret', oauthError(400, { error: 'bad_client_secret' }), slack, ['integration', 'integration_failing', 'bad_client_secret', null]],
    ['Slack invalid_client_id', oauthError(400, { error: 'invalid_client_id' }), slack, ['integration', 'integration_failing', 'invalid_client_id', null]],
    // Provider quirks.
    ['GitHub bad_refresh_token', oauthError(400, { error: 'bad_refresh_token' }), github, ['permanent', 'connection_needs_reauth', 'bad_refresh_token', null]],
    ['bad_refresh_token is not permanent for a provider that does not say so', oauthError(400, { error: 'bad_refresh_token' }), custom, ['transient', 'provider_error', 'bad_refresh_token', null]],
    ['Slack invalid_refresh_token', oauthError(400, { error: 'invalid_refresh_token' }), slack, ['permanent', 'connection_needs_reauth', 'invalid_refresh_token', null]],
    ['Slack token_revoked', oauthError(400, { error: 'token_revoked' }), slack, ['permanent', 'connection_needs_reauth', 'token_revoked', null]],
    ['Slack ratelimited', oauthError(429, { error: 'ratelimited' }, 30_000), slack, ['transient', 'provider_unavailable', 'ratelimited', 30_000]],
    ['Slack internal_error', oauthError(400, { error: 'internal_error' }), slack, ['transient', 'provider_unavailable', 'internal_error', null]],
    ['Google invalid_grant + invalid_rapt', oauthError(400, { error: 'invalid_grant', error_subtype: 'invalid_rapt' }), google, ['permanent', 'connection_needs_reauth', 'invalid_grant', null]],
    ['a subtype only counts when the provider lists it', oauthError(400, { error: 'weird', error_subtype: 'invalid_rapt' }), custom, ['transient', 'provider_error', 'weird', null]],
    // Transient OAuth errors.
    ['temporarily_unavailable', oauthError(400, { error: 'temporarily_unavailable' }), custom, ['transient', 'provider_unavailable', 'temporarily_unavailable', null]],
    ['server_error', oauthError(400, { error: 'server_error' }), custom, ['transient', 'provider_unavailable', 'server_error', null]],
    ['5xx wins over the code', oauthError(503, { error: 'invalid_grant' }, 2000), custom, ['transient', 'provider_unavailable', 'invalid_grant', 2000]],
    ['429 wins over the code', oauthError(429, { error: 'invalid_request' }, 1000), custom, ['transient', 'provider_unavailable', 'invalid_request', 1000]],
    ['unknown code', oauthError(400, { error: 'slow_down' }), custom, ['transient', 'provider_error', 'slow_down', null]],
    // Already typed errors from the transport and the response checks.
    ['HTTP 503 without body', new TokenkeeperError('provider_unavailable', 'x', { retryAfterMs: 5000 }), custom, ['transient', 'provider_unavailable', null, 5000]],
    ['garbage', new TokenkeeperError('invalid_provider_response', 'x'), custom, ['transient', 'invalid_provider_response', null, null]],
    ['provider_error', new TokenkeeperError('provider_error', 'x'), custom, ['transient', 'provider_error', null, null]],
    ['needs reauth passes through', new TokenkeeperError('connection_needs_reauth', 'x'), custom, ['permanent', 'connection_needs_reauth', null, null]],
    ['integration_failing passes through (a 401 without an OAuth body)', new TokenkeeperError('integration_failing', 'x'), custom, ['integration', 'integration_failing', null, null]],
    ['another Tokenkeeper code', new TokenkeeperError('no_refresh_token'), custom, ['transient', 'provider_error', null, null]],
    // Raw failures that escaped wrapping.
    ['timeout', new DOMException('The operation timed out.', 'TimeoutError'), custom, ['transient', 'provider_unavailable', null, null]],
    ['abort', new DOMException('This operation was aborted', 'AbortError'), custom, ['transient', 'provider_unavailable', null, null]],
    ['network', new TypeError('fetch failed'), custom, ['transient', 'provider_unavailable', null, null]],
    ['oauth4webapi validation', new oauth4webapi.OperationProcessingError('bad'), custom, ['transient', 'invalid_provider_response', null, null]],
    ['oauth4webapi unsupported token type', new oauth4webapi.UnsupportedOperationError('mac'), custom, ['transient', 'invalid_provider_response', null, null]],
    ['anything else', new Error('boom'), custom, ['transient', 'provider_error', null, null]],
    ['not even an error', 'boom', custom, ['transient', 'provider_error', null, null]],
  ];

  for (const [name, error, provider, expected] of cases) {
    it(name, () => assert.deepEqual(summary(classifyFailure(error, provider)), expected));
  }

  it('gives a short reason without the provider description or any token', () => {
    const error = oauthError(400, { error: 'invalid_grant', error_description: 'refresh token rt-secret-123 expired' });
    const result = classifyFailure(error, custom);
    assert.match(result.reason, /invalid_grant/);
    assert.doesNotMatch(result.reason, /rt-secret-123/);
    assert.doesNotMatch(error.message, /rt-secret-123/);
  });

  it('says what failed, never what to do about it: the caller adds "the user must reconnect" once', () => {
    const reasons = [
      classifyFailure(oauthError(400, { error: 'invalid_grant' }), custom),
      classifyFailure(oauthError(400, { error: 'invalid_grant', error_subtype: 'invalid_rapt' }), google),
      classifyFailure(oauthError(401, { error: 'invalid_client' }), custom),
      classifyFailure(oauthError(401, { error: 'invalid_grant' }), custom),
    ].map((result) => result.reason);
    for (const reason of reasons) {
      assert.doesNotMatch(reason, /reconnect/i, reason);
      assert.match(reason, /[^.]\.$/, `one sentence ending in one period: ${reason}`);
    }
  });

  it('keeps the raw body off the enumerable properties of OAuthProviderError', () => {
    const error = oauthError(400, { error: 'invalid_grant', error_description: 'd', refresh_token: 'rt-secret' });
    assert.equal(error.body.refresh_token, 'rt-secret');
    assert.ok(!Object.keys(error).includes('body'));
    assert.doesNotMatch(JSON.stringify(error), /rt-secret/);
    assert.equal(error.error_description, 'd');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  it('reads delay-seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
  });
  it('reads an HTTP-date relative to now (IMF-fixdate, RFC 850, asctime)', () => {
    assert.equal(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sunday, 01-Mar-26 12:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Sun Mar  1 12:00:10 2026', now), 10_000);
  });
  it('treats a date in the past as no wait', () => {
    assert.equal(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now), 0);
  });
  it('returns null for absent or garbage values', () => {
    for (const value of [null, '', 'soon', '-5', '1.5', '12abc', '2026-03-01T12:00:30Z', 'Sun, 01 Mar 2026']) {
      assert.equal(parseRetryAfter(value, now), null, String(value));
    }
  });
  it('never returns more than 24 hours, however far the provider asks (item 15)', () => {
    assert.equal(MAX_RETRY_AFTER_MS, 86_400_000);
    assert.equal(parseRetryAfter('86400', now), 86_400_000);
    for (const value of ['86401', '99999999999999999999', '9'.repeat(400), 'Fri, 31 Dec 9999 23:59:59 GMT', 'Fri Dec 31 23:59:59 9999']) {
      assert.equal(parseRetryAfter(value, now), MAX_RETRY_AFTER_MS, value.slice(0, 40));
    }
  });
});
