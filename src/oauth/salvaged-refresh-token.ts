const SALVAGED = Symbol('salvagedRefreshToken');

/**
 * A 2xx answer rejected as invalid (a broken expires_in, a bad ID token) may still carry a new
 * refresh token — and a rotating provider has already retired the old one, so dropping it would
 * lose the connection (and, with reuse detection, the whole grant) over a cosmetic defect. The
 * new refresh token rides along on the error, out of sight (a symbol key, non-enumerable), for
 * the caller to store: see `salvagedRefreshToken`.
 */
export function withSalvagedRefreshToken(error: unknown, refreshToken: unknown): unknown {
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
