/**
 * The token answer of both token routes, in wire spelling. `expires_in` is counted on the
 * injected clock at the time of the answer, so a client that ignores `expires_at` still knows
 * how long it may use the token (RFC 6749 §5.1 spells the field the same way).
 */
/**
 * `expires_at` as text, remembered per expiry time: the token route answers the same token
 * thousands of times a second, and formatting a date is most of what building its body costs.
 */
const isoOfExpiry = new Map<number, string>();

function expiryIso(expiresAt: number): string {
  let iso = isoOfExpiry.get(expiresAt);
  if (iso === undefined) {
    if (isoOfExpiry.size >= 10_000) isoOfExpiry.clear();
    isoOfExpiry.set(expiresAt, (iso = new Date(expiresAt).toISOString()));
  }
  return iso;
}

export function tokenJson(result: { connectionId: string; accessToken: string; tokenType: string; expiresAt: number | null; scopes: string[] | null }, now: number): Record<string, unknown> {
  return {
    access_token: result.accessToken,
    token_type: result.tokenType,
    expires_at: result.expiresAt === null ? null : expiryIso(result.expiresAt),
    expires_in: result.expiresAt === null ? null : Math.max(0, Math.floor((result.expiresAt - now) / 1000)),
    scopes: result.scopes,
    connection_id: result.connectionId,
  };
}
