import * as oauth from 'oauth4webapi';
import type { Clock } from '../clock.ts';
import { getInternals } from './client-internals.ts';
import { createRequestTransport } from './http-transport.ts';
import { processTokenResponse } from './process-token-response.ts';
import { readTokenEndpointResponse } from './token-response.ts';
import { toTokenSet } from './token-set.ts';
import type { ProviderClient, TokenSet } from './types.ts';

/**
 * The client credentials grant (RFC 6749 §4.4), for an integration's system connection. Only
 * the scopes passed here are requested (user scopes such as `openid` do not apply to this
 * grant); none means the provider's default. There is no refresh token (§4.4.3): callers simply
 * ask again.
 */
export async function requestClientCredentials(
  client: ProviderClient,
  options: { scopes?: string[]; clock?: Clock; signal?: AbortSignal } = {},
): Promise<TokenSet> {
  const internals = getInternals(client);
  const clock = options.clock ?? internals.clock;
  const parameters = new URLSearchParams();
  if (options.scopes && options.scopes.length > 0) parameters.set('scope', options.scopes.join(client.provider.scopeSeparator));
  const transport = createRequestTransport(internals, 'token', options.signal);
  const sentAt = clock.now();
  const response = await oauth.clientCredentialsGrantRequest(
    internals.authorizationServer, internals.client, internals.clientAuth, parameters,
    transport.options(client.endpoints.token, client.provider.quirks.tokenRequestHeaders),
  );
  const clean = await readTokenEndpointResponse(response, transport, client.provider, clock.now(), [client.clientSecret ?? '']);
  const { json } = await processTokenResponse('client_credentials', client, internals, clean, { now: clock.now() });
  return toTokenSet(json, { sentAt, provider: client.provider });
}
