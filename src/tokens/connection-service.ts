import type { Clock } from '../clock.ts';
import { TokenkeeperError, isTokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { newId, isId } from '../ids.ts';
import type { IntegrationService, IntegrationView, ResolvedIntegration } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import { classifyFailure, revokeToken, type TokenSet } from '../oauth/index.ts';
import {
  deleteConnection,
  findConnection,
  findConnectionByAccount,
  findSystemConnection,
  insertConnection,
  isUniqueViolation,
  listConnections,
  listEventsOfConnection,
  updateConnectionFenced,
  type ConnectionFilter,
  type ConnectionRecord,
  type ConnectionStatus,
  type Database,
  type EventRecord,
} from '../store/index.ts';
import { connectionRef, pickMetadata } from './refresh-commits.ts';
import { nextStoredTokens, type StoredTokens } from './stored-tokens.ts';
import { ensureSystemConnection } from './system-connection.ts';
import type { TokenResult, TokenService } from './token-service.ts';

export interface ConnectionServiceOptions {
  db: Database;
  clock: Clock;
  events: EventBus;
  logger: Logger;
  integrations: IntegrationService;
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

const STATUSES: ConnectionStatus[] = ['pending', 'active', 'degraded', 'needs_reauth', 'revoked'];
const OWNER_PATTERN = /^[\x21-\x7e]{1,200}$/;

export function isValidOwnerId(value: unknown): value is string {
  return typeof value === 'string' && OWNER_PATTERN.test(value);
}

/** The public shape of a connection: no token, no lease internals. */
export function connectionToJson(record: ConnectionRecord, integrationKey: string, provider: string): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: record.id,
    integration: integrationKey,
    provider,
    owner_id: record.ownerId,
    kind: record.kind,
    status: record.status,
    status_reason: record.statusReason,
    account_id: record.accountId,
    account_label: record.accountLabel,
    token_type: record.tokenType,
    scopes: record.scopes,
    expires_at: iso(record.expiresAt),
    last_refresh_at: iso(record.lastRefreshAt),
    failure_count: record.failureCount,
    next_attempt_at: iso(record.nextAttemptAt),
    last_error: record.lastErrorCode === null ? null : { code: record.lastErrorCode, message: record.lastErrorMessage },
    metadata: record.metadata,
    created_at: iso(record.createdAt),
    updated_at: iso(record.updatedAt),
  };
}

/**
 * Connection lifecycle outside the refresh path: creating and reconnecting from a token set,
 * importing, listing, revoking, the system connection and owner-or-system resolution.
 */
export class ConnectionService {
  private readonly options: ConnectionServiceOptions;

  constructor(options: ConnectionServiceOptions) {
    this.options = options;
  }

  /** The rate limiters and breakers every outbound call to a provider goes through. */
  get guard(): TokenService['guard'] {
    return this.options.tokens.guard;
  }

  /**
   * Stores a token set as a connection. Reconnecting the same provider account for the same
   * owner updates that connection (back to `active`, new tokens, failures cleared) instead of
   * creating a duplicate. One connection per (integration, owner, account) is enforced by a
   * unique index: of two saves racing in different processes, the loser's insert fails and it
   * applies its token set to the winner's row instead, as a reconnect.
   */
  async saveTokenSet(input: SaveTokenSetInput, attempt = 0): Promise<{ record: ConnectionRecord; reconnected: boolean }> {
    const { db, clock, events, tokens: tokenService } = this.options;
    const { integration, tokens } = input;
    const now = clock.now();
    const metadata = { ...pickMetadata(integration, tokens), ...(input.metadata ?? {}) };
    const existing = input.identity
      ? await findConnectionByAccount(db, integration.record.id, input.ownerId, input.identity.accountId)
      : input.kind === 'system'
        ? await findSystemConnection(db, integration.record.id)
        : null;
    // What a fresh token set sets on the row, whether it is a new connection or a reconnect.
    const tokenFields = (id: string, previous: StoredTokens | null) => ({
      tokensSealed: tokenService.sealTokens(id, nextStoredTokens(previous, tokens)),
      tokenType: tokens.tokenType,
      scopes: tokens.scopes ?? integration.record.scopes,
      expiresAt: tokens.expiresAt,
      issuedAt: input.issuedAt,
      lastRefreshAt: input.issuedAt ?? now,
      status: 'active' as const,
      statusReason: null,
      failureCount: 0,
      nextAttemptAt: null,
      unansweredRefreshAt: null,
      lastErrorCode: null,
      lastErrorMessage: null,
      updatedAt: now,
    });

    if (existing) {
      // A reconnect that brings no refresh token (Google without prompt=consent) keeps the old one.
      const previous = this.tokensOf(existing);
      const updated = await updateConnectionFenced(db, existing.id, existing.version, {
        ...tokenFields(existing.id, previous),
        accountLabel: input.identity?.label ?? existing.accountLabel,
        metadata: { ...existing.metadata, ...metadata },
      });
      if (!updated) {
        // A refresh of the old token set committed at the same moment: re-read and apply again.
        if (attempt >= 3) throw new TokenkeeperError('refresh_in_progress', 'The connection kept changing while it was being reconnected; try again.');
        return this.saveTokenSet(input, attempt + 1);
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
      await insertConnection(db, record);
    } catch (error) {
      // Another process inserted the same account (or the system connection) first.
      if (!isUniqueViolation(error) || attempt >= 3) throw error;
      return this.saveTokenSet(input, attempt + 1);
    }
    events.emit('connection.created', {
      ...connectionRef(record, integration),
      accountId: record.accountId,
      kind: record.kind,
      imported: input.imported,
    });
    return { record, reconnected: false };
  }

  /**
   * One connection and its integration as stored. Reading needs no provider: the integration is
   * the row and its catalog entry (`recordById`), never resolved through discovery, so this
   * answers during a provider outage, even in a process started during one.
   */
  async get(id: string): Promise<{ record: ConnectionRecord; integration: IntegrationView }> {
    if (!isId(id, 'con')) throw new TokenkeeperError('invalid_id', `"${id}" is not a connection id.`);
    const record = await findConnection(this.options.db, id);
    if (!record) throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
    const integration = await this.options.integrations.recordById(record.integrationId);
    return { record, integration };
  }

  async list(query: { integration?: string; owner_id?: string; status?: string; kind?: string; limit?: string; after?: string }): Promise<{
    records: ConnectionRecord[];
    next: string | null;
  }> {
    const filter: ConnectionFilter = {};
    if (query.integration !== undefined) {
      const integration = await this.options.integrations.findByKey(query.integration);
      if (!integration) return { records: [], next: null };
      filter.integrationId = integration.id;
    }
    if (query.owner_id !== undefined) filter.ownerId = query.owner_id;
    if (query.status !== undefined) {
      if (!STATUSES.includes(query.status as ConnectionStatus)) {
        throw new TokenkeeperError('invalid_request', `status must be one of ${STATUSES.join(', ')}.`);
      }
      filter.status = query.status as ConnectionStatus;
    }
    if (query.kind !== undefined) {
      if (query.kind !== 'user' && query.kind !== 'system') throw new TokenkeeperError('invalid_request', 'kind must be user or system.');
      filter.kind = query.kind;
    }
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new TokenkeeperError('invalid_request', 'limit must be an integer from 1 to 500.');
    filter.limit = limit + 1;
    if (query.after !== undefined) {
      const decoded = decodeCursor(query.after);
      if (!decoded) throw new TokenkeeperError('invalid_request', 'after is not a cursor returned by this API.');
      filter.after = decoded;
    }
    const rows = await listConnections(this.options.db, filter);
    const records = rows.slice(0, limit);
    const last = records.at(-1);
    return { records, next: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /** The connection's event log, newest first; the database only (no integration, no provider). */
  async events(id: string, options: { limit?: number } = {}): Promise<EventRecord[]> {
    if (!isId(id, 'con')) throw new TokenkeeperError('invalid_id', `"${id}" is not a connection id.`);
    if (!(await findConnection(this.options.db, id))) throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
    return listEventsOfConnection(this.options.db, id, options);
  }

  /**
   * Revokes at the provider (RFC 7009) where it has a revocation endpoint, then deletes. A
   * revocation that fails does not keep the connection: the operator asked for it to be gone;
   * the report says whether the provider confirmed.
   */
  async delete(id: string): Promise<{ revokedAtProvider: boolean; revocationError: string | null }> {
    const { record, integration } = await this.get(id);
    let revokedAtProvider = false;
    let revocationError: string | null = null;
    const tokens = this.tokensOf(record);
    if (tokens) {
      try {
        // An outbound call like any other: through the integration's rate limiter and breaker.
        const resolved = await this.options.integrations.resolveById(record.integrationId);
        if (resolved.client.endpoints.revocation) {
          const token = tokens.refresh_token ?? tokens.access_token;
          const hint = tokens.refresh_token ? 'refresh_token' : 'access_token';
          const outcome = await this.options.tokens.guard.run(
            resolved,
            () => revokeToken(resolved.client, token, hint, { signal: AbortSignal.timeout(10_000) }),
            { maxWaitMs: 2_000, isProviderFault: (error) => classifyFailure(error, resolved.provider).kind === 'transient' },
          );
          revokedAtProvider = outcome === 'revoked';
        }
      } catch (error) {
        revocationError = error instanceof Error ? error.message : 'revocation failed';
        this.options.logger.warn('revocation at the provider failed; deleting the connection anyway', { connectionId: id, error });
      }
    }
    await deleteConnection(this.options.db, id);
    this.options.tokens.forget(id);
    const ref = connectionRef(record, integration);
    this.options.events.emit('connection.revoked', { ...ref, revokedAtProvider, reason: 'deleted through the API' });
    this.options.events.emit('connection.deleted', ref);
    return { revokedAtProvider, revocationError };
  }

  /** The stored tokens, or null when there are none or they no longer decrypt (a lost key). */
  private tokensOf(record: ConnectionRecord): StoredTokens | null {
    try {
      return this.options.tokens.peekTokens(record);
    } catch (error) {
      if (isTokenkeeperError(error, 'decryption_failed')) return null;
      throw error;
    }
  }

  /** The system connection of an integration, minted by client credentials when configured. */
  ensureSystemConnection(integrationKey: string): Promise<ConnectionRecord | null> {
    const { db, clock, integrations, tokens, events } = this.options;
    return ensureSystemConnection({ db, clock, integrations, tokens, events }, integrationKey);
  }

  /**
   * Two-tier resolution: the owner's usable connection, or (with `fallback: 'system'`) the
   * integration's system connection when the owner has none or theirs needs the user again.
   */
  async getTokenForOwner(
    integrationKey: string,
    ownerId: string | null,
    options: { fallback: 'system' | 'none'; minValiditySeconds?: number },
  ): Promise<TokenResult & { source: 'owner' | 'system' }> {
    const integration = await this.options.integrations.getByKey(integrationKey);
    if (ownerId !== null) {
      const candidates = await listConnections(this.options.db, { integrationId: integration.id, ownerId, kind: 'user', limit: 20 });
      const usable = candidates
        .filter((c) => c.status === 'active' || c.status === 'degraded')
        .sort((a, b) => b.updatedAt - a.updatedAt);
      let lastError: unknown = null;
      for (const candidate of usable) {
        try {
          return { ...(await this.options.tokens.getToken(candidate.id, { minValiditySeconds: options.minValiditySeconds })), source: 'owner' };
        } catch (error) {
          lastError = error;
          const userMustReconnect =
            isTokenkeeperError(error, 'connection_needs_reauth') || isTokenkeeperError(error, 'refresh_token_lost') || isTokenkeeperError(error, 'connection_revoked');
          if (!userMustReconnect) throw error;
        }
      }
      if (options.fallback !== 'system') {
        if (lastError) throw lastError;
        throw new TokenkeeperError('no_usable_connection', `Owner "${ownerId}" has no usable connection for "${integrationKey}".`);
      }
    } else if (options.fallback !== 'system') {
      throw new TokenkeeperError('invalid_request', 'Give owner_id, or fallback=system for the system token.');
    }
    const system = await this.ensureSystemConnection(integrationKey);
    if (!system || (system.status !== 'active' && system.status !== 'degraded')) {
      throw new TokenkeeperError('no_system_connection', `The integration "${integrationKey}" has no usable system connection.`);
    }
    return { ...(await this.options.tokens.getToken(system.id, { minValiditySeconds: options.minValiditySeconds, trigger: 'system' })), source: 'system' };
  }
}

function encodeCursor(record: ConnectionRecord): string {
  return Buffer.from(`${record.createdAt}:${record.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,16}):(con_[a-z2-7]{20})$/.exec(text);
  return match ? { createdAt: Number(match[1]), id: match[2]! } : null;
}
