import * as oauth from 'oauth4webapi';
import { getInternals } from './client-internals.ts';
import { createRequestTransport } from './http-transport.ts';
import { errorForStatus, isRecord, parseProviderResponse } from './response-body.ts';
import type { ProviderClient } from './types.ts';

/**
 * Token revocation (RFC 7009 §2). 'unsupported' when the provider has no revocation endpoint or
 * answers `unsupported_token_type` (§2.2.1). HTTP 200 means revoked — also for tokens the server
 * does not know (§2.2) — and so does `invalid_token`, which some providers (Google, Salesforce)
 * answer for a token that is already dead. 503 and other failures throw (transient; §2.2.1 says
 * retry later); pass them to `classifyFailure`.
 */
export async function revokeToken(
  client: ProviderClient,
  token: string,
  hint: 'access_token' | 'refresh_token',
  options: { signal?: AbortSignal } = {},
): Promise<'revoked' | 'unsupported'> {
  if (client.endpoints.revocation === null) return 'unsupported';
  const internals = getInternals(client);
  const transport = createRequestTransport(internals, 'revocation', options.signal);
  const response = await oauth.revocationRequest(internals.authorizationServer, internals.client, internals.clientAuth, token, {
    ...transport.options(client.endpoints.revocation),
    additionalParameters: { token_type_hint: hint },
  });
  const text = await transport.readText(response);
  const parsed = parseProviderResponse(response, text, client.provider, internals.clock.now());
  if (parsed.status >= 200 && parsed.status <= 299) return 'revoked';
  const error = isRecord(parsed.body) ? parsed.body.error : undefined;
  if (parsed.status < 500 && parsed.status !== 429) {
    if (error === 'unsupported_token_type') return 'unsupported';
    if (error === 'invalid_token') return 'revoked';
  }
  throw errorForStatus(parsed, 'revocation', [token, client.clientSecret ?? '']);
}
