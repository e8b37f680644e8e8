import type { ProviderEntry } from '../providers/index.ts';
import type { RequestTransport } from './http-transport.ts';
import { errorForStatus, garbage, isRecord, parseProviderResponse } from './response-body.ts';
import { withSalvagedRefreshToken } from './salvaged-refresh-token.ts';

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
