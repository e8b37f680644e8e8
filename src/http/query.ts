import { TokenkeeperError } from '../errors.ts';
import { isId, type IdPrefix } from '../ids.ts';

export function requireId(value: string, prefix: IdPrefix, what: string): string {
  if (!isId(value, prefix)) throw new TokenkeeperError('invalid_id', `"${String(value).slice(0, 60)}" is not a valid ${what} id.`);
  return value;
}

/** Reads an optional whole-number query parameter within bounds; anything else is a 400. */
export function optionalInteger(query: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new TokenkeeperError('invalid_request', `${name} must be a whole number from ${min} to ${max}.`);
  }
  return Number(raw);
}

export function optionalString(query: Record<string, unknown>, name: string): string | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new TokenkeeperError('invalid_request', `${name} must be given once.`);
  return raw;
}

export function tokenJson(result: { connectionId: string; accessToken: string; tokenType: string; expiresAt: number | null; scopes: string[] | null }, now: number): Record<string, unknown> {
  return {
    access_token: result.accessToken,
    token_type: result.tokenType,
    expires_at: result.expiresAt === null ? null : new Date(result.expiresAt).toISOString(),
    expires_in: result.expiresAt === null ? null : Math.max(0, Math.floor((result.expiresAt - now) / 1000)),
    scopes: result.scopes,
    connection_id: result.connectionId,
  };
}
