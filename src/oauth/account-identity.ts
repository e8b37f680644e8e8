import * as oauth from 'oauth4webapi';
import { TokenkeeperError } from '../errors.ts';
import { getInternals } from './client-internals.ts';
import { createRequestTransport } from './http-transport.ts';
import { errorForStatus, isRecord } from './response-body.ts';
import type { ProviderClient, TokenSet } from './types.ts';

export interface AccountIdentity {
  /** Stable per provider account: reconnecting the same account finds the same connection. */
  accountId: string;
  /** Something a person recognises (email, login, workspace name). */
  label: string | null;
}

/**
 * Who the connected account is, in order of trust:
 * 1. the validated ID token's `sub` (OpenID Connect Core §2), labelled with its email or name —
 *    asking userinfo for a label when the ID token has none, and only believing userinfo when its
 *    `sub` matches (§5.3.4);
 * 2. the userinfo endpoint — OpenID Connect userinfo (`sub`) or a provider's "me" API (`id`:
 *    GitHub, Discord, Spotify);
 * 3. the provider's quirk reading the token response (Slack team/user, Salesforce `id`).
 * Null when the provider offers none of these. A userinfo failure falls back to the quirk and
 * otherwise throws (classify it): silently returning null would create duplicate connections.
 */
export async function fetchAccountIdentity(
  client: ProviderClient,
  result: { tokens: TokenSet; idTokenClaims: Record<string, unknown> | null },
  options: { signal?: AbortSignal } = {},
): Promise<AccountIdentity | null> {
  const claims = result.idTokenClaims;
  if (claims && typeof claims.sub === 'string' && claims.sub.length > 0) {
    let label = labelFrom(claims);
    if (label === null && client.endpoints.userinfo !== null) {
      const info = await fetchUserinfo(client, result.tokens.accessToken, options.signal).catch(() => null);
      if (info && info.sub === claims.sub) label = labelFrom(info);
    }
    return { accountId: claims.sub, label };
  }

  const quirk = client.provider.quirks.accountFromTokenResponse;
  if (client.endpoints.userinfo !== null) {
    try {
      const info = await fetchUserinfo(client, result.tokens.accessToken, options.signal);
      const id = info.sub ?? info.id;
      if ((typeof id === 'string' && id.length > 0) || typeof id === 'number') return { accountId: String(id), label: labelFrom(info) };
      if (!quirk) throw new TokenkeeperError('invalid_provider_response', 'The userinfo response has no sub or id.', { details: { endpoint: 'userinfo' } });
    } catch (error) {
      if (!quirk) throw error;
    }
  }
  return quirk ? quirk(result.tokens.extra) : null;
}

function labelFrom(source: Record<string, unknown>): string | null {
  for (const field of ['email', 'preferred_username', 'login', 'username', 'name', 'display_name']) {
    const value = source[field];
    if (typeof value === 'string' && value.length > 0) return value.slice(0, 200);
  }
  return null;
}

async function fetchUserinfo(client: ProviderClient, accessToken: string, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
  const internals = getInternals(client);
  const transport = createRequestTransport(internals, 'userinfo', signal);
  const response = await oauth.userInfoRequest(internals.authorizationServer, internals.client, accessToken, transport.options(client.endpoints.userinfo!));
  const text = await transport.readText(response);
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (response.status < 200 || response.status > 299) {
    throw errorForStatus({ status: response.status, body, retryAfterMs: null }, 'userinfo');
  }
  if (!isRecord(body)) {
    throw new TokenkeeperError('invalid_provider_response', 'The userinfo endpoint answered with something that is not a JSON object.', {
      details: { endpoint: 'userinfo', status: response.status },
    });
  }
  return body;
}
