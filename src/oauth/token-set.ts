import type * as oauth from 'oauth4webapi';
import type { ProviderEntry } from '../providers/index.ts';
import { isRecord } from './response-body.ts';
import type { TokenSet } from './types.ts';

const STANDARD_FIELDS = new Set(['access_token', 'refresh_token', 'id_token', 'token_type', 'expires_in', 'scope']);
const SECRET_KEY = /(token|secret|password|assertion|verifier)/i;

/**
 * Builds the TokenSet. `sentAt` is when the request went out: RFC 6749 §5.1's expires_in counts
 * from the provider's answer, which is later, so this errs on the early (safe) side.
 */
export function toTokenSet(
  json: oauth.TokenEndpointResponse,
  options: { sentAt: number; provider: ProviderEntry },
): TokenSet {
  const lifetimeSeconds = typeof json.expires_in === 'number' ? json.expires_in : options.provider.defaultAccessTokenLifetimeSeconds;
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (!STANDARD_FIELDS.has(key) && value !== undefined) extra[key] = withoutSecrets(value);
  }
  // Only what the response says; keeping the old refresh token when it has none is the storing
  // side's rule (tokens/stored-tokens.ts), in one place.
  const refreshToken = typeof json.refresh_token === 'string' ? json.refresh_token : null;
  return {
    accessToken: json.access_token,
    refreshToken,
    idToken: typeof json.id_token === 'string' ? json.id_token : null,
    tokenType: presentTokenType(json.token_type),
    expiresAt: lifetimeSeconds === null ? null : options.sentAt + Math.round(lifetimeSeconds * 1000),
    scopes: typeof json.scope === 'string' ? parseScope(json.scope) : null,
    extra: withoutSecrets(extra) as Record<string, unknown>,
  };
}

/**
 * Scope strings are space-delimited (RFC 6749 §3.3); GitHub and Slack answer with commas. No
 * catalog provider has a comma inside a scope name, so both separate.
 */
function parseScope(scope: string): string[] {
  return scope.split(/[\s,]+/).filter(Boolean);
}

function presentTokenType(tokenType: string): string {
  const lower = tokenType.toLowerCase();
  if (lower === 'bearer') return 'Bearer';
  if (lower === 'dpop') return 'DPoP';
  return tokenType;
}

/** Nested token-like strings go (Slack's `authed_user.access_token`): extra is metadata, never secrets. */
function withoutSecrets(value: unknown, depth = 0): unknown {
  if (depth > 5) return undefined;
  if (Array.isArray(value)) return value.map((item) => withoutSecrets(item, depth + 1));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === 'string' && SECRET_KEY.test(key)) continue;
      out[key] = withoutSecrets(item, depth + 1);
    }
    return out;
  }
  return value;
}
