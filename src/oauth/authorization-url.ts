import type { ProviderClient } from './types.ts';

/** Parameters this module owns; extraParams cannot replace them. */
const PROTOCOL_PARAMS = new Set(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce']);

/**
 * The authorization request (RFC 6749 §4.1.1): `response_type=code`, client id, redirect URI,
 * scopes joined with the provider's separator, `state` (CSRF, §10.12), an S256 code challenge
 * when the provider takes PKCE (RFC 7636 §4.3; ignored otherwise, and the verifier is then not
 * sent either), a `nonce` for OpenID Connect, then the provider's and the integration's extra
 * parameters (Google's `access_type=offline`). Query parameters already on the endpoint stay.
 */
export function buildAuthorizationUrl(
  client: ProviderClient,
  params: { state: string; codeChallenge?: string; nonce?: string; scopes?: string[]; extraParams?: Record<string, string> },
): URL {
  const url = new URL(client.endpoints.authorization);
  for (const [name, value] of Object.entries(client.provider.authorizationParams)) url.searchParams.set(name, value);
  for (const [name, value] of Object.entries(params.extraParams ?? {})) {
    if (PROTOCOL_PARAMS.has(name)) throw new TypeError(`extraParams cannot set "${name}".`);
    url.searchParams.set(name, value);
  }
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', client.redirectUri);
  const scopes = params.scopes ?? client.scopes;
  if (scopes.length > 0) url.searchParams.set('scope', scopes.join(client.provider.scopeSeparator));
  url.searchParams.set('state', params.state);
  if (client.provider.pkce && params.codeChallenge) {
    url.searchParams.set('code_challenge', params.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  if (params.nonce) url.searchParams.set('nonce', params.nonce);
  return url;
}
