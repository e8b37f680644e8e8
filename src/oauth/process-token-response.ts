import * as oauth from 'oauth4webapi';
import { TokenkeeperError } from '../errors.ts';
import type { ClientInternals } from './client-internals.ts';
import { isRecord } from './response-body.ts';
import { withSalvagedRefreshToken } from './salvaged-refresh-token.ts';
import type { ProviderClient } from './types.ts';

/**
 * Runs oauth4webapi's validation of a clean token response, including ID token claims
 * (OpenID Connect Core §3.1.3.7: iss, aud, exp, iat, nonce). The ID token's issuer is the
 * provider's quirk answer (Microsoft's per-tenant issuer) or the known issuer; with neither
 * (a `custom` provider without an issuer) the ID token cannot be validated, so it is kept as a
 * token but its claims are not trusted (null).
 */
export async function processTokenResponse(
  kind: 'authorization_code' | 'refresh_token' | 'client_credentials',
  client: ProviderClient,
  internals: ClientInternals,
  clean: { response: Response; body: Record<string, unknown> },
  options: { now: number; expectedNonce?: string | null },
): Promise<{ json: oauth.TokenEndpointResponse; idTokenClaims: Record<string, unknown> | null }> {
  let response = clean.response;
  let authorizationServer = internals.authorizationServer;
  let idTokenTrusted = false;
  if (typeof clean.body.id_token === 'string') {
    const issuer = expectedIdTokenIssuer(client, clean.body.id_token);
    if (issuer === undefined) {
      const { id_token: _ignored, ...withoutIdToken } = clean.body;
      response = new Response(JSON.stringify(withoutIdToken), { status: 200, headers: { 'content-type': 'application/json' } });
    } else {
      authorizationServer = { ...authorizationServer, issuer };
      idTokenTrusted = true;
    }
  }
  // oauth4webapi checks exp/iat against its own clock; the skew makes it use ours.
  const oauthClient: oauth.Client = { ...internals.client, [oauth.clockSkew]: Math.round((options.now - Date.now()) / 1000) };
  let json: oauth.TokenEndpointResponse;
  try {
    if (kind === 'authorization_code') {
      const expectedNonce = idTokenTrusted && options.expectedNonce ? options.expectedNonce : undefined;
      json = await oauth.processAuthorizationCodeResponse(authorizationServer, oauthClient, response, { expectedNonce });
    } else if (kind === 'refresh_token') {
      json = await oauth.processRefreshTokenResponse(authorizationServer, oauthClient, response);
    } else {
      json = await oauth.processClientCredentialsResponse(authorizationServer, oauthClient, response);
    }
  } catch (error) {
    throw withSalvagedRefreshToken(
      new TokenkeeperError('invalid_provider_response', `The provider's token response failed validation: ${safeMessage(error)}`, {
        cause: error,
        details: { endpoint: 'token', problem: safeMessage(error) },
      }),
      clean.body.refresh_token,
    );
  }
  const claims = idTokenTrusted ? (oauth.getValidatedIdTokenClaims(json) as Record<string, unknown> | undefined) ?? null : null;
  if (typeof clean.body.id_token === 'string' && !idTokenTrusted) {
    (json as { id_token?: string }).id_token = clean.body.id_token;
  }
  return { json, idTokenClaims: claims ? { ...claims } : null };
}

/** undefined: no issuer to check against. Throws when the quirk rejects the token's issuer. */
function expectedIdTokenIssuer(client: ProviderClient, idToken: string): string | undefined {
  const quirk = client.provider.quirks.idTokenIssuer;
  if (quirk) {
    const issuer = quirk(unverifiedClaims(idToken));
    if (issuer === null) {
      throw new TokenkeeperError('invalid_provider_response', 'The ID token has an unexpected issuer.', {
        details: { endpoint: 'token', problem: 'id_token issuer' },
      });
    }
    return issuer;
  }
  return client.endpoints.issuer ?? undefined;
}

/** Claims read only to pick the issuer to validate against; oauth4webapi then validates them. */
function unverifiedClaims(jwt: string): Record<string, unknown> {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    return isRecord(payload) ? payload : {};
  } catch {
    return {};
  }
}

/** oauth4webapi's messages describe the check that failed; they never include token values. */
function safeMessage(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 200) : 'unknown error';
}
