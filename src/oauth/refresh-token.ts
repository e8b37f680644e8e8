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
 * The refresh token grant (RFC 6749 §6).
 *
 * The returned `refreshToken` is the one in the response (a rotation: the old one MUST then be
 * discarded, §6), or null when the response has none and the old one stays valid; the storing
 * side keeps the old one then (`nextStoredTokens` in tokens/).
 *
 * Callers must serialise refreshes per connection: with rotation and reuse detection
 * (RFC 9700 §4.14.2) two concurrent refreshes with the same refresh token revoke the grant.
 * Failures throw OAuthProviderError or TokenkeeperError; pass them to `classifyFailure`.
 */
export async function refreshAccessToken(
  client: ProviderClient,
  refreshToken: string,
  options: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<TokenSet> {
  const internals = getInternals(client);
  if (!client.provider.refresh.supported) {
    throw new TokenkeeperError('no_refresh_token', `The ${client.provider.key} provider does not issue refresh tokens.`);
  }
  const clock = options.clock ?? internals.clock;
  const transport = createRequestTransport(internals, 'token', options.signal);
  const sentAt = clock.now();
  const response = await oauth.refreshTokenGrantRequest(
    internals.authorizationServer, internals.client, internals.clientAuth, refreshToken,
    transport.options(client.endpoints.token, client.provider.quirks.tokenRequestHeaders),
  );
  const clean = await readTokenEndpointResponse(response, transport, client.provider, clock.now(), [refreshToken, client.clientSecret ?? '']);
  const { json } = await processTokenResponse('refresh_token', client, internals, clean, { now: clock.now() });
  return toTokenSet(json, { sentAt, provider: client.provider });
}
