import { MAX_LIFETIME_SECONDS, type ProviderEntry } from '../providers/index.ts';
import type { RequestTransport } from './http-transport.ts';
import { MAX_TOKEN_BYTES, MIN_TOKEN_LIFETIME_SECONDS } from './provider-limits.ts';
import { errorForStatus, garbage, isRecord, parseProviderResponse } from './response-body.ts';
import { withSalvagedRefreshToken } from './salvaged-refresh-token.ts';

/**
 * Reads a token-endpoint answer and either throws the right error or returns a clean HTTP 200
 * JSON Response that oauth4webapi's process*Response functions accept. Doing the checks here,
 * before oauth4webapi, keeps every failure typed: OAuth errors become OAuthProviderError, and a
 * body that is not a usable token response (non-JSON, no access_token, a broken or out-of-range
 * expires_in, a token over MAX_TOKEN_BYTES) becomes `invalid_provider_response` — transient, so a
 * provider's bad day never forces users to reconnect. A rejected 2xx hands its refresh token to
 * the caller all the same (`salvagedRefreshToken`).
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

  checkTokenSize(body.access_token, 'access_token', status);

  // RFC 6749 §5.1: expires_in is the lifetime in seconds. Numeric strings ("3600") are common
  // enough to accept; negative, non-numeric or non-finite values mean the answer is broken. A
  // lifetime under the floor would refresh on every request; one over ten years would put
  // expires_at past what can be stored exactly (2^53 ms): both are provider faults, not values
  // to clamp (see provider-limits.ts).
  if (body.expires_in !== undefined && body.expires_in !== null) {
    const value = lifetimeSeconds(body.expires_in);
    if (value === null) throw garbage('token', 'an invalid expires_in', status);
    if (value < MIN_TOKEN_LIFETIME_SECONDS || value > MAX_LIFETIME_SECONDS) {
      throw garbage('token', `an expires_in of ${String(value).slice(0, 30)} s (it must be at least ${MIN_TOKEN_LIFETIME_SECONDS} s and at most ${MAX_LIFETIME_SECONDS} s)`, status);
    }
    body.expires_in = value;
  } else {
    delete body.expires_in;
  }
  // Refresh-token lifetimes (GitHub and LinkedIn `refresh_token_expires_in`, Intuit
  // `x_refresh_token_expires_in`, Keycloak `refresh_expires_in`) are only kept as metadata; no
  // timing decision reads them, so a broken one is dropped rather than failing a good refresh.
  for (const field of REFRESH_TOKEN_LIFETIME_FIELDS) {
    if (body[field] === undefined) continue;
    const value = lifetimeSeconds(body[field]);
    if (value === null || value > MAX_LIFETIME_SECONDS) delete body[field];
    else body[field] = value;
  }

  if (body.refresh_token === '' || body.refresh_token === null) delete body.refresh_token;
  if (body.refresh_token !== undefined && typeof body.refresh_token !== 'string') throw garbage('token', 'an invalid refresh_token', status);
  checkTokenSize(body.refresh_token, 'refresh_token', status);
  if (body.id_token === '' || body.id_token === null) delete body.id_token;
  if (body.id_token !== undefined && typeof body.id_token !== 'string') throw garbage('token', 'an invalid id_token', status);
  checkTokenSize(body.id_token, 'id_token', status);

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

const REFRESH_TOKEN_LIFETIME_FIELDS = ['refresh_token_expires_in', 'x_refresh_token_expires_in', 'refresh_expires_in'] as const;

/** A lifetime in seconds: a non-negative finite number, or a numeric string; null otherwise. */
function lifetimeSeconds(raw: unknown): number | null {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isFinite(value) && value >= 0 ? value : null;
}

/** Tokens are stored and sent in headers: one over MAX_TOKEN_BYTES is a provider fault (provider-limits.ts). */
function checkTokenSize(token: unknown, field: 'access_token' | 'refresh_token' | 'id_token', status: number): void {
  if (typeof token === 'string' && Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) {
    throw garbage('token', `${field === 'refresh_token' ? 'a' : 'an'} ${field} larger than ${MAX_TOKEN_BYTES} bytes`, status);
  }
}
