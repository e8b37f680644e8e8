import * as oauth from 'oauth4webapi';
import { TokenkeeperError } from '../errors.ts';
import type { ProviderEntry } from '../providers/index.ts';
import type { ClientInternals } from './client-internals.ts';
import { errorForStatus, garbage, isRecord, parseProviderResponse } from './response-body.ts';
import type { RequestTransport } from './http-transport.ts';
import type { ProviderClient, TokenSet } from './types.ts';

/**
 * Reads a token-endpoint answer and either throws the right error or returns a clean HTTP 200
 * JSON Response that oauth4webapi's process*Response functions accept. Doing the checks here,
 * before oauth4webapi, keeps every failure typed: OAuth errors become OAuthProviderError, and a
 * body that is not a usable token response (non-JSON, no access_token, a broken expires_in)
 * becomes `invalid_provider_response` — transient, so a provider's bad day never forces users to
 * reconnect.
 */
export async function readTokenEndpointResponse(
  response: Response,
  transport: RequestTransport,
  provider: ProviderEntry,
  now: number,
  sentSecrets: readonly string[],
): Promise<{ response: Response; body: Record<string, unknown> }> {
  const text = await transport.readText(response);
  const parsed = parseProviderResponse(response, text, provider, now);
  if (parsed.status < 200 || parsed.status > 299) throw errorForStatus(parsed, 'token', sentSecrets);

  const { status } = parsed;
  if (!isRecord(parsed.body)) throw garbage('token', 'a body that is not a JSON object', status);
  try {
    return checkTokenBody({ ...parsed.body }, status);
  } catch (error) {
    throw withSalvagedRefreshToken(error, parsed.body.refresh_token);
  }
}

function checkTokenBody(body: Record<string, unknown>, status: number): { response: Response; body: Record<string, unknown> } {
  if (typeof body.access_token !== 'string' || body.access_token.length === 0) {
    throw garbage('token', typeof body.error === 'string' ? `an error "${body.error.slice(0, 100)}" under HTTP ${status}` : 'no access_token', status);
  }

  // RFC 6749 §5.1: expires_in is the lifetime in seconds. Numeric strings ("3600") are common
  // enough to accept; negative, non-numeric or non-finite values mean the answer is broken.
  if (body.expires_in !== undefined && body.expires_in !== null) {
    const raw = body.expires_in;
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(value) || value < 0) throw garbage('token', 'an invalid expires_in', status);
    body.expires_in = value;
  } else {
    delete body.expires_in;
  }

  if (body.refresh_token === '' || body.refresh_token === null) delete body.refresh_token;
  if (body.refresh_token !== undefined && typeof body.refresh_token !== 'string') throw garbage('token', 'an invalid refresh_token', status);
  if (body.id_token === '' || body.id_token === null) delete body.id_token;
  if (body.id_token !== undefined && typeof body.id_token !== 'string') throw garbage('token', 'an invalid id_token', status);

  // token_type is REQUIRED (RFC 6749 §5.1) but some providers (LinkedIn) leave it out; every
  // catalog provider issues bearer tokens (RFC 6750).
  if (body.token_type === undefined || body.token_type === null || body.token_type === '') body.token_type = 'bearer';
  if (typeof body.token_type !== 'string') throw garbage('token', 'an invalid token_type', status);

  if (Array.isArray(body.scope) && body.scope.every((item) => typeof item === 'string')) body.scope = body.scope.join(' ');
  if (body.scope === null) delete body.scope;
  if (body.scope !== undefined && typeof body.scope !== 'string') throw garbage('token', 'an invalid scope', status);

  return {
    body,
    response: new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }),
  };
}

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

const SALVAGED = Symbol('salvagedRefreshToken');

/**
 * A 2xx answer rejected as invalid (a broken expires_in, a bad ID token) may still carry a new
 * refresh token — and a rotating provider has already retired the old one, so dropping it would
 * lose the connection (and, with reuse detection, the whole grant) over a cosmetic defect. The
 * new refresh token rides along on the error, out of sight (a symbol key, non-enumerable), for
 * the caller to store: see `salvagedRefreshToken`.
 */
function withSalvagedRefreshToken(error: unknown, refreshToken: unknown): unknown {
  if (error instanceof Error && typeof refreshToken === 'string' && refreshToken.length > 0) {
    Object.defineProperty(error, SALVAGED, { value: refreshToken, enumerable: false });
  }
  return error;
}

/**
 * The new refresh token from a token response that was otherwise rejected as invalid, or null.
 * DESIGN.md invariant 3: a rotated refresh token is never dropped — store it even though the
 * refresh failed (the failure itself stays transient).
 */
export function salvagedRefreshToken(error: unknown): string | null {
  const value = error instanceof Error ? (error as Error & { [SALVAGED]?: unknown })[SALVAGED] : undefined;
  return typeof value === 'string' ? value : null;
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

const STANDARD_FIELDS = new Set(['access_token', 'refresh_token', 'id_token', 'token_type', 'expires_in', 'scope']);
const SECRET_KEY = /(token|secret|password|assertion|verifier)/i;

/**
 * Builds the TokenSet. `sentAt` is when the request went out: RFC 6749 §5.1's expires_in counts
 * from the provider's answer, which is later, so this errs on the early (safe) side.
 */
export function toTokenSet(
  json: oauth.TokenEndpointResponse,
  options: { sentAt: number; provider: ProviderEntry; previousRefreshToken: string | null },
): TokenSet {
  const lifetimeSeconds = typeof json.expires_in === 'number' ? json.expires_in : options.provider.defaultAccessTokenLifetimeSeconds;
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (!STANDARD_FIELDS.has(key) && value !== undefined) extra[key] = withoutSecrets(value);
  }
  const refreshToken = typeof json.refresh_token === 'string'
    ? json.refresh_token
    : options.provider.refresh.keepOldWhenOmitted ? options.previousRefreshToken : null;
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
