import type { Clock } from '../clock.ts';
import { TokenkeeperError, isTokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { isId } from '../ids.ts';
import type { IntegrationService, IntegrationView } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import { classifyFailure, revokeToken } from '../oauth/index.ts';
import {
  deleteConnection,
  findConnection,
  listConnections,
  listEventsOfConnection,
  type ConnectionFilter,
  type ConnectionRecord,
  type ConnectionStatus,
  type Database,
  type EventRecord,
} from '../store/index.ts';
import { connectionAppEvent } from './connection-app-events.ts';
import { eventPayload } from './event-payload.ts';
import { connectionRef } from './refresh-commits.ts';
import { saveTokenSet, type SaveTokenSetInput } from './save-token-set.ts';
import type { StoredTokens } from './stored-tokens.ts';
import { ensureSystemConnection } from './system-connection.ts';
import type { TokenResult, TokenService } from './token-service.ts';

export type { SaveTokenSetInput };
export { connectionToJson, isValidOwnerId } from './connection-json.ts';

export interface ConnectionServiceOptions {
  db: Database;
  clock: Clock;
  events: EventBus;
  logger: Logger;
  integrations: IntegrationService;
  tokens: TokenService;
}

const STATUSES: ConnectionStatus[] = ['pending', 'active', 'degraded', 'needs_reauth', 'revoked'];
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
   * Stores a token set as a connection: a new one, or — for the same owner and provider account —
   * a reconnect of the existing one (save-token-set.ts).
   */
  async saveTokenSet(input: SaveTokenSetInput): Promise<{ record: ConnectionRecord; reconnected: boolean }> {
    const { db, clock, events, tokens } = this.options;
    // Its writes are announced to other processes in their transactions (a reconnect replaces
    // the token set their caches may hold).
    return saveTokenSet({ db, clock, events, tokens }, input);
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
    // Rows stored before payloads took the API's shape are shown in it.
    return (await listEventsOfConnection(this.options.db, id, options)).map((event) => ({ ...event, data: eventPayload(event.data) }));
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
    // Announced in the delete's transaction: every instance drops its cached token on commit;
    // the application's `connection.deleted` (the connection as it was) commits with it.
    const now = this.options.clock.now();
    await this.options.tokens.writeConnections([id], (db) => deleteConnection(db, id), (deleted) => (deleted ? [connectionAppEvent('connection.deleted', record, integration, now)] : []));
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
