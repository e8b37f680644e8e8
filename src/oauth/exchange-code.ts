import * as oauth from 'oauth4webapi';
import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import { getInternals } from './client-internals.ts';
import { createRequestTransport } from './http-transport.ts';
import { processTokenResponse } from './process-token-response.ts';
import { readTokenEndpointResponse } from './token-response.ts';
import { toTokenSet } from './token-set.ts';
import type { ProviderClient, TokenSet } from './types.ts';

/**
 * Validates the authorization response (RFC 6749 §4.1.2; RFC 9207 `iss` when the issuer is
 * known) and exchanges the code (§4.1.3) with the PKCE verifier (RFC 7636 §4.5).
 *
 * Callback problems are TokenkeeperErrors with the connect-flow codes: `access_denied`,
 * `provider_callback_error`, `state_invalid`, `code_missing`. Token-endpoint failures are
 * OAuthProviderError / TokenkeeperError, for `classifyFailure`.
 */
export async function exchangeAuthorizationCode(
  client: ProviderClient,
  params: {
    callbackParameters: URLSearchParams;
    expectedState: string;
    codeVerifier: string | null;
    nonce?: string | null;
    clock?: Clock;
    signal?: AbortSignal;
  },
): Promise<{ tokens: TokenSet; idTokenClaims: Record<string, unknown> | null }> {
  const internals = getInternals(client);
  const clock = params.clock ?? internals.clock;
  const callback = new URLSearchParams(params.callbackParameters);

  const error = callback.get('error');
  if (error !== null) {
    const description = callback.get('error_description') ?? undefined;
    if (error === 'access_denied') throw new TokenkeeperError('access_denied', undefined, { details: { error, error_description: description } });
    throw new TokenkeeperError('provider_callback_error', `The provider returned "${error.slice(0, 100)}" to the callback.`, {
      details: { error: error.slice(0, 100), error_description: description?.slice(0, 500) },
    });
  }
  if (callback.get('state') !== params.expectedState) throw new TokenkeeperError('state_invalid');
  if (!callback.get('code')) throw new TokenkeeperError('code_missing');
  // RFC 9207: `iss` can only be checked against a known issuer.
  if (client.endpoints.issuer === null) callback.delete('iss');

  let validated: URLSearchParams;
  try {
    validated = oauth.validateAuthResponse(internals.authorizationServer, internals.client, callback, params.expectedState);
  } catch (cause) {
    throw new TokenkeeperError('provider_callback_error', `The callback failed validation: ${cause instanceof Error ? cause.message : 'unknown reason'}`, { cause });
  }

  const verifier = client.provider.pkce && params.codeVerifier ? params.codeVerifier : oauth.nopkce;
  const transport = createRequestTransport(internals, 'token', params.signal);
  const sentAt = clock.now();
  const response = await oauth.authorizationCodeGrantRequest(
    internals.authorizationServer, internals.client, internals.clientAuth, validated, client.redirectUri, verifier,
    transport.options(client.endpoints.token, client.provider.quirks.tokenRequestHeaders),
  );
  const clean = await readTokenEndpointResponse(response, transport, client.provider, clock.now(), [validated.get('code') ?? '', params.codeVerifier ?? '', client.clientSecret ?? '']);
  const { json, idTokenClaims } = await processTokenResponse('authorization_code', client, internals, clean, {
    now: clock.now(),
    expectedNonce: params.nonce ?? null,
  });
  return { tokens: toTokenSet(json, { sentAt, provider: client.provider }), idTokenClaims };
}
