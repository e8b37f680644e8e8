import { TokenkeeperError } from '../errors.ts';
import type { ConnectionRecord, IntegrationRecord } from '../store/index.ts';
import type { CacheEntry } from './token-cache.ts';

/**
 * When a token counts as valid, and when it is due. Pure functions of a row, its integration and
 * the time, shared by the request path, the sweep's SQL mirror (`listDueForRefresh`) and tests.
 */

/** Without an explicit min_validity, a token still valid this long is served if a refresh fails transiently. */
export const FALLBACK_VALIDITY_MS = 30_000;

/** The lifetime the provider granted the current access token, or null when unknown or non-expiring. */
export function grantedLifetimeMs(record: ConnectionRecord): number | null {
  if (record.expiresAt === null || record.issuedAt === null) return null;
  const lifetime = record.expiresAt - record.issuedAt;
  return lifetime > 0 ? lifetime : null;
}

/**
 * The refresh buffer, capped at half the lifetime the provider granted: with a 120 s token and
 * a 300 s buffer every request would otherwise refresh.
 */
export function effectiveBufferMs(record: ConnectionRecord, integration: IntegrationRecord): number {
  const bufferMs = integration.refreshBufferSeconds * 1000;
  const lifetime = grantedLifetimeMs(record);
  return lifetime === null ? bufferMs : Math.min(bufferMs, Math.floor(lifetime / 2));
}

/**
 * How long a handed-out token must stay valid (invariant 4): the caller's min_validity, or the
 * effective buffer. A min_validity a fresh token can never satisfy is a typed error rather than a
 * refresh on every call.
 */
export function requiredValidityMs(record: ConnectionRecord, integration: IntegrationRecord, minValiditySeconds: number | undefined): number {
  if (minValiditySeconds === undefined) return effectiveBufferMs(record, integration);
  const requested = minValiditySeconds * 1000;
  const lifetime = grantedLifetimeMs(record);
  if (lifetime !== null && requested >= lifetime) {
    throw new TokenkeeperError(
      'min_validity_unsatisfiable',
      `min_validity is ${minValiditySeconds} s but tokens of this connection live ${Math.floor(lifetime / 1000)} s.`,
      { details: { min_validity: minValiditySeconds, token_lifetime_seconds: Math.floor(lifetime / 1000) } },
    );
  }
  return requested;
}

/** The sweep refreshes when less than max(effective buffer, 25 % of the granted lifetime) remains. */
export function sweepThresholdMs(record: ConnectionRecord, integration: IntegrationRecord): number {
  const bufferMs = integration.refreshBufferSeconds * 1000;
  const lifetime = grantedLifetimeMs(record);
  return lifetime === null ? bufferMs : Math.max(Math.min(bufferMs, lifetime / 2), lifetime / 4);
}

export function isValidFor(entry: CacheEntry, needMs: number, now: number): boolean {
  if (!entry.tokens) return false;
  if (entry.record.status !== 'active' && entry.record.status !== 'degraded') return false;
  if (entry.record.expiresAt === null) return needMs !== Number.POSITIVE_INFINITY;
  return entry.record.expiresAt - now >= needMs;
}

/**
 * Throws the typed error for a connection that cannot hand out a token. A pending system
 * connection of a client-credentials integration is usable: the refresh path mints its token.
 */
export function assertUsable(record: ConnectionRecord, integration: IntegrationRecord): void {
  if (!integration.enabled) throw new TokenkeeperError('integration_disabled', `The integration "${integration.key}" is disabled.`);
  switch (record.status) {
    case 'active':
    case 'degraded':
      return;
    case 'pending':
      if (record.kind === 'system' && integration.systemGrant === 'client_credentials') return;
      throw new TokenkeeperError('connection_pending');
    case 'revoked':
      throw new TokenkeeperError('connection_revoked');
    case 'needs_reauth':
      if (record.lastErrorCode === 'refresh_token_lost') {
        throw new TokenkeeperError('refresh_token_lost', undefined, {
          details: { reason: record.statusReason, provider_error: 'invalid_grant' },
        });
      }
      throw new TokenkeeperError('connection_needs_reauth', `The connection needs the user to reconnect: ${record.statusReason ?? 'the provider rejected its refresh token'}.`, {
        details: { reason: record.statusReason, provider_error: record.lastErrorCode },
      });
  }
}
