import * as oauth from 'oauth4webapi';
import { TokenkeeperError, type ErrorCode } from '../errors.ts';
import type { ProviderEntry } from '../providers/index.ts';
import { OAuthProviderError } from './provider-error.ts';

export interface Classification {
  /**
   * permanent: the user must reconnect (connection → needs_reauth).
   * integration: the integration's own credentials or registration are rejected — an operator
   * must fix the integration; no user is sent to reconnect (DESIGN.md invariant 5).
   * transient: retry with backoff.
   */
  kind: 'permanent' | 'integration' | 'transient';
  code: Extract<
    ErrorCode,
    'connection_needs_reauth' | 'integration_failing' | 'provider_unavailable' | 'invalid_provider_response' | 'provider_error'
  >;
  /**
   * Short human text (one sentence, ending in a period) for the connection's status and events;
   * never a token or a provider description, and never what to do about it ("the user must
   * reconnect"): the caller, which knows the kind, says that.
   */
  reason: string;
  /** The provider's OAuth error code, when there was one. */
  providerError: string | null;
  /** From `Retry-After`, at most MAX_RETRY_AFTER_MS (24 h); callers cap the cooldown lower. */
  retryAfterMs: number | null;
}

/**
 * RFC 6749 §5.2 token-endpoint errors that blame the client (the integration), not the grant:
 * client authentication failed (`invalid_client`, HTTP 401 when the client used HTTP Basic), or
 * the client may not use this grant type (`unauthorized_client`). A wrong client secret would
 * otherwise send every user of the integration to needs_reauth, and reconnecting cannot help.
 */
export const INTEGRATION_OAUTH_ERRORS: readonly string[] = Object.freeze(['invalid_client', 'unauthorized_client']);

/**
 * The other RFC 6749 §5.2 token-endpoint errors. For a refresh each one means the grant cannot
 * be used again as it is: the refresh token is dead (`invalid_grant`), or the request can never
 * succeed unchanged.
 */
export const PERMANENT_OAUTH_ERRORS: readonly string[] = Object.freeze([
  'invalid_request', 'invalid_grant', 'unsupported_grant_type', 'invalid_scope',
]);

/** RFC 6749 §4.1.2.1 codes a provider also uses at the token endpoint to say "try again later". */
export const TRANSIENT_OAUTH_ERRORS: readonly string[] = Object.freeze(['temporarily_unavailable', 'server_error']);

/**
 * The one classification table (DESIGN.md invariant 5). Only a permanent error moves a
 * connection to needs_reauth, and only an integration error marks the integration as failing;
 * everything else — network errors, timeouts, 5xx, 429, garbage, out-of-range lifetimes,
 * oversized answers, unknown error codes — is transient, because wrongly asking users to
 * reconnect (or an operator to fix a working integration) is far more expensive than retrying
 * with backoff. Evaluated top to bottom:
 *
 * | failure                                                            | kind        | code                      |
 * |--------------------------------------------------------------------|-------------|---------------------------|
 * | OAuth error with HTTP 429                                          | transient   | provider_unavailable      |
 * | OAuth error with HTTP 5xx                                          | transient   | provider_unavailable      |
 * | `temporarily_unavailable`, `server_error`, quirk transient codes   | transient   | provider_unavailable      |
 * | `invalid_client`, `unauthorized_client`, quirk integration codes   | integration | integration_failing       |
 * | any other OAuth error with HTTP 401 from the token endpoint        | integration | integration_failing       |
 * | other RFC 6749 §5.2 codes, quirk permanent codes (error or subtype)| permanent   | connection_needs_reauth   |
 * | any other OAuth error code                                         | transient   | provider_error            |
 * | TokenkeeperError (network, timeout, 429/5xx without body, garbage, | its kind    | its code                  |
 * |   401 without body from the token endpoint → integration_failing)  |             |                           |
 * | timeout / abort / fetch network failure not yet wrapped            | transient   | provider_unavailable      |
 * | oauth4webapi response validation error                             | transient   | invalid_provider_response |
 * | anything else                                                      | transient   | provider_error            |
 */
export function classifyFailure(error: unknown, provider: ProviderEntry): Classification {
  if (error instanceof OAuthProviderError) return classifyOAuthError(error, provider);

  if (error instanceof TokenkeeperError) {
    const retryAfterMs = error.retryAfterMs ?? null;
    switch (error.code) {
      case 'connection_needs_reauth':
        return { kind: 'permanent', code: error.code, reason: error.message, providerError: null, retryAfterMs: null };
      case 'integration_failing':
        return { kind: 'integration', code: error.code, reason: error.message, providerError: null, retryAfterMs: null };
      case 'provider_unavailable':
      case 'invalid_provider_response':
      case 'provider_error':
        return { kind: 'transient', code: error.code, reason: error.message, providerError: null, retryAfterMs };
      default:
        return { kind: 'transient', code: 'provider_error', reason: error.message, providerError: null, retryAfterMs };
    }
  }

  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return transient('provider_unavailable', name === 'TimeoutError' ? 'The provider did not answer in time.' : 'The request to the provider was aborted.');
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    return transient('provider_unavailable', 'The provider could not be reached.');
  }
  if (
    error instanceof oauth.OperationProcessingError ||
    error instanceof oauth.UnsupportedOperationError ||
    error instanceof oauth.ResponseBodyError ||
    error instanceof oauth.WWWAuthenticateChallengeError
  ) {
    return transient('invalid_provider_response', 'The provider answered with something that is not a valid OAuth response.');
  }
  return transient('provider_error', 'Unexpected failure while talking to the provider.');
}

function classifyOAuthError(error: OAuthProviderError, provider: ProviderEntry): Classification {
  const retryAfterMs = error.retryAfterMs ?? null;
  const base = { providerError: error.error.slice(0, 100), retryAfterMs };
  if (error.status === 429) {
    return { ...base, kind: 'transient', code: 'provider_unavailable', reason: `Rate limited by the provider (HTTP 429, "${base.providerError}").` };
  }
  if (error.status >= 500) {
    return { ...base, kind: 'transient', code: 'provider_unavailable', reason: `The provider failed (HTTP ${error.status}, "${base.providerError}").` };
  }
  const transientCodes = [...TRANSIENT_OAUTH_ERRORS, ...(provider.quirks.transientErrors ?? [])];
  if (transientCodes.includes(error.error)) {
    return { ...base, kind: 'transient', code: 'provider_unavailable', reason: `The provider is temporarily unavailable ("${base.providerError}").` };
  }
  const integrationCodes = [...INTEGRATION_OAUTH_ERRORS, ...(provider.quirks.integrationErrors ?? [])];
  if (integrationCodes.includes(error.error)) {
    return { ...base, kind: 'integration', code: 'integration_failing', reason: `The provider rejected the integration's client credentials or registration ("${base.providerError}").` };
  }
  // RFC 6749 §5.2: 401 is client authentication failing, whatever code the provider chose.
  if (error.status === 401 && error.endpoint === 'token') {
    return { ...base, kind: 'integration', code: 'integration_failing', reason: `The provider refused the integration's client authentication (HTTP 401, "${base.providerError}").` };
  }
  const permanentCodes = [...PERMANENT_OAUTH_ERRORS, ...(provider.quirks.permanentErrors ?? [])];
  const subtype = error.error_subtype;
  if (subtype !== undefined && (provider.quirks.permanentErrors ?? []).includes(subtype)) {
    return { ...base, kind: 'permanent', code: 'connection_needs_reauth', reason: `The provider rejected the grant ("${base.providerError}", subtype "${subtype.slice(0, 100)}").` };
  }
  if (permanentCodes.includes(error.error)) {
    return { ...base, kind: 'permanent', code: 'connection_needs_reauth', reason: `The provider rejected the grant ("${base.providerError}").` };
  }
  return { ...base, kind: 'transient', code: 'provider_error', reason: `The provider answered an unrecognised error ("${base.providerError}").` };
}

function transient(code: Classification['code'], reason: string): Classification {
  return { kind: 'transient', code, reason, providerError: null, retryAfterMs: null };
}
