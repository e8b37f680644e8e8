import { MAX_TOKEN_BYTES } from './provider-limits.ts';

const SALVAGED = Symbol('salvagedRefreshToken');

/**
 * A 2xx answer rejected as invalid (a broken expires_in, a bad ID token) may still carry a new
 * refresh token — and a rotating provider has already retired the old one, so dropping it would
 * lose the connection (and, with reuse detection, the whole grant) over a cosmetic defect. The
 * new refresh token rides along on the error, out of sight (a symbol key, non-enumerable), for
 * the caller to store: see `salvagedRefreshToken`. A refresh token over MAX_TOKEN_BYTES is not
 * salvaged: it is refused for the same reason it could not be stored from a good answer.
 */
export function withSalvagedRefreshToken(error: unknown, refreshToken: unknown): unknown {
  if (
    error instanceof Error && typeof refreshToken === 'string' && refreshToken.length > 0
    && Buffer.byteLength(refreshToken, 'utf8') <= MAX_TOKEN_BYTES
  ) {
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
