import type { Clock } from '../clock.ts';
import { isTokenkeeperError } from '../errors.ts';
import type { ResolvedIntegration } from '../integrations/index.ts';
import {
  classifyFailure,
  OAuthProviderError,
  refreshAccessToken,
  requestClientCredentials,
  salvagedRefreshToken,
  type Classification,
  type TokenSet,
} from '../oauth/index.ts';

export type TokenGrant = { kind: 'refresh_token'; refreshToken: string } | { kind: 'client_credentials'; scopes: string[] | undefined };

export type EndpointResult =
  | { ok: true; tokens: TokenSet; sentAt: number }
  | {
      ok: false;
      classification: Classification;
      /**
       * Whether the provider's answer arrived. Without one (network error, timeout) nobody knows
       * whether the provider processed the request — and rotated the refresh token.
       */
      answered: boolean;
      /** A rotated refresh token carried by a rejected 2xx answer: the old one is dead at the provider. */
      salvagedRefreshToken: string | null;
      sentAt: number;
    };

/** One request to the token endpoint: a refresh (RFC 6749 §6) or client credentials (§4.4). */
export async function callTokenEndpoint(
  integration: ResolvedIntegration,
  grant: TokenGrant,
  options: { clock: Clock; timeoutMs: number },
): Promise<EndpointResult> {
  const { clock } = options;
  const sentAt = clock.now();
  try {
    const signal = AbortSignal.timeout(options.timeoutMs);
    const tokens =
      grant.kind === 'client_credentials'
        ? await requestClientCredentials(integration.client, { scopes: grant.scopes, clock, signal })
        : await refreshAccessToken(integration.client, grant.refreshToken, { clock, signal });
    return { ok: true, tokens, sentAt };
  } catch (error) {
    return {
      ok: false,
      classification: classifyFailure(error, integration.provider),
      answered: wasAnswered(error),
      salvagedRefreshToken: salvagedRefreshToken(error),
      sentAt,
    };
  }
}

/** Connection failures that mean the request never reached the provider. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether we know what became of the request: an answer arrived, or the connection was refused
 * before anything was sent. A timeout or a connection reset mid-request leaves it unknown.
 */
function wasAnswered(error: unknown): boolean {
  if (error instanceof OAuthProviderError) return true;
  if (isTokenkeeperError(error)) {
    const reason = error.details?.reason;
    if (reason === 'network' && NEVER_SENT.has(String(error.details?.network_error))) return true;
    // A 2xx whose body was too large to read may have carried a rotated refresh token.
    if (reason === 'body_too_large') return false;
    return !(error.code === 'provider_unavailable' && (reason === 'network' || reason === 'timeout' || reason === 'aborted'));
  }
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError' || error instanceof TypeError) return false;
  return true;
}
