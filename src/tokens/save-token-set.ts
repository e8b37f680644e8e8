import type { Clock } from '../clock.ts';
import { TokenkeeperError, isTokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { newId } from '../ids.ts';
import type { ResolvedIntegration } from '../integrations/index.ts';
import type { TokenSet } from '../oauth/index.ts';
import {
  findConnectionByAccount,
  findSystemConnection,
  insertConnection,
  isUniqueViolation,
  updateConnectionFenced,
  type ConnectionRecord,
  type Database,
} from '../store/index.ts';
import { connectionAppEvent, reconnectedAppEvents } from './connection-app-events.ts';
import { METADATA_MAX_BYTES } from './import-connection.ts';
import { connectionRef, pickMetadata } from './refresh-commits.ts';
import { freshTokenPatch, nextStoredTokens, type StoredTokens } from './stored-tokens.ts';
import type { TokenService } from './token-service.ts';

export interface SaveTokenSetDeps {
  db: Database;
  clock: Clock;
  events: EventBus;
  tokens: TokenService;
}

export interface SaveTokenSetInput {
  integration: ResolvedIntegration;
  ownerId: string | null;
  kind: 'user' | 'system';
  tokens: TokenSet;
  /** When the token request was sent (the lifetime counts from then); null when unknown (imports). */
  issuedAt: number | null;
  identity: { accountId: string; label: string | null } | null;
  imported: boolean;
  metadata?: Record<string, unknown>;
}

/**
 * Stores a token set as a connection. Reconnecting the same provider account for the same
 * owner updates that connection (back to `active`, new tokens, failures cleared) instead of
 * creating a duplicate. One connection per (integration, owner, account) is enforced by a
 * unique index: of two saves racing in different processes, the loser's insert fails and it
 * applies its token set to the winner's row instead, as a reconnect.
 *
 * Each write is one transaction with the application event it causes (`connection.created`, or
 * `connection.recovered` for a reconnect of a connection that needed its user); a reconnect is
 * announced to other processes' caches in it, as it replaces a token set they may hold.
 */
export async function saveTokenSet(deps: SaveTokenSetDeps, input: SaveTokenSetInput, attempt = 0): Promise<{ record: ConnectionRecord; reconnected: boolean }> {
  const { db, clock, events, tokens: tokenService } = deps;
  const { integration, tokens } = input;
  const now = clock.now();
  const metadata = { ...pickMetadata(integration, tokens), ...(input.metadata ?? {}) };
  const existing = input.identity
    ? await findConnectionByAccount(db, integration.record.id, input.ownerId, input.identity.accountId)
    : input.kind === 'system'
      ? await findSystemConnection(db, integration.record.id)
      : null;
  // What a fresh token set sets on the row, whether it is a new connection or a reconnect.
  const tokenFields = (id: string, previous: StoredTokens | null) =>
    freshTokenPatch({
      sealedTokens: tokenService.sealTokens(id, nextStoredTokens(previous, tokens)),
      response: tokens,
      scopesWhenOmitted: integration.record.scopes,
      issuedAt: input.issuedAt,
      now,
    });

  if (existing) {
    // A reconnect that brings no refresh token (Google without prompt=consent) keeps the old one.
    const previous = tokensOf(tokenService, existing);
    const merged = { ...existing.metadata, ...metadata };
    if (input.imported && Buffer.byteLength(JSON.stringify(merged)) > METADATA_MAX_BYTES) {
      throw new TokenkeeperError('invalid_request', 'metadata must be at most 8 KiB of JSON, together with what the connection already has.');
    }
    const updated = await tokenService.writeConnections(
      [existing.id],
      (trx) =>
        updateConnectionFenced(trx, existing.id, existing.version, {
          ...tokenFields(existing.id, previous),
          accountLabel: input.identity?.label ?? existing.accountLabel,
          metadata: merged,
        }),
      (record) => (record ? reconnectedAppEvents(record, integration, existing.status, now) : []),
    );
    if (!updated) {
      // A refresh of the old token set committed at the same moment: re-read and apply again.
      if (attempt >= 3) throw new TokenkeeperError('refresh_in_progress', 'The connection kept changing while it was being reconnected; try again.');
      return saveTokenSet(deps, input, attempt + 1);
    }
    tokenService.remember(updated);
    events.emit('connection.reconnected', {
      ...connectionRef(updated, integration),
      accountId: updated.accountId,
      previousStatus: existing.status,
    });
    return { record: updated, reconnected: true };
  }

  const id = newId('con');
  const record: ConnectionRecord = {
    id,
    integrationId: integration.record.id,
    ownerId: input.ownerId,
    kind: input.kind,
    accountId: input.identity?.accountId ?? null,
    accountLabel: input.identity?.label ?? null,
    ...tokenFields(id, null),
    metadata,
    version: 1,
    leaseOwner: null,
    leaseUntil: null,
    createdAt: now,
  };
  try {
    // A new row: no cache anywhere holds it, so nothing is announced (an announcement would only
    // make other processes' caches refuse a read that raced it).
    await tokenService.writeConnections([], (trx) => insertConnection(trx, record), () => [
      connectionAppEvent('connection.created', record, integration, now, { imported: input.imported }),
    ]);
  } catch (error) {
    // Another process inserted the same account (or the system connection) first.
    if (!isUniqueViolation(error) || attempt >= 3) throw error;
    return saveTokenSet(deps, input, attempt + 1);
  }
  events.emit('connection.created', {
    ...connectionRef(record, integration),
    accountId: record.accountId,
    kind: record.kind,
    imported: input.imported,
  });
  return { record, reconnected: false };
}

/** The stored tokens, or null when there are none or they no longer decrypt (a lost key). */
function tokensOf(tokens: TokenService, record: ConnectionRecord): StoredTokens | null {
  try {
    return tokens.peekTokens(record);
  } catch (error) {
    if (isTokenkeeperError(error, 'decryption_failed')) return null;
    throw error;
  }
}
