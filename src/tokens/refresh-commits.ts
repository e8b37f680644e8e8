import type { Clock } from '../clock.ts';
import type { ConnectionRef, EventBus, RefreshTrigger } from '../events.ts';
import type { IntegrationView } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import type { Classification, TokenSet } from '../oauth/index.ts';
import { TokenkeeperError } from '../errors.ts';
import {
  connectionFromRow,
  fencedRecordAfter,
  findConnection,
  isStorageUnavailable,
  releaseLeaseStatement,
  updateConnectionFencedStatement,
  type ConnectionPatch,
  type ChangeFeed,
  type ConnectionRecord,
  type Database,
  type NewAppEvent,
  type NewEvent,
} from '../store/index.ts';
import { cooldownDelay, sleep, type BackoffPolicy } from './backoff.ts';
import { connectionAppEvent, refreshedAppEvents } from './connection-app-events.ts';
import { eventLogRow } from './event-log.ts';
import { PendingCommits } from './pending-commits.ts';
import { freshTokenPatch, nextStoredTokens, type StoredTokens, type TokenSealer } from './stored-tokens.ts';
import type { CacheEntry, TokenCache } from './token-cache.ts';

export interface RefreshCommitsOptions {
  db: Database;
  clock: Clock;
  events: EventBus;
  logger: Logger;
  sealer: TokenSealer;
  cache: TokenCache;
  /** Every write here is announced on it, so other processes' caches and waiters hear of it. */
  changes: ChangeFeed;
  leaseMs: number;
  /** Cooldown between failed refresh attempts of one connection. */
  cooldown: BackoffPolicy;
  /** Ceiling of any cooldown, `Retry-After` included (a provider's `Retry-After: 86400` must not park a connection for a day). */
  maxCooldownMs: number;
  /** Consecutive transient failures before an active connection is marked degraded. */
  degradeAfterFailures: number;
  /** How long an uncommitted token set keeps being retried in the background before giving up. */
  commitRetryMs?: number;
  random: () => number;
}

/** What a holder commits with: the row as leased, its decrypted tokens, who holds the lease. */
export interface HeldConnection {
  leased: ConnectionRecord;
  tokens: StoredTokens | null;
  holder: string;
  integration: IntegrationView;
  trigger: RefreshTrigger;
  startedAt: number;
}

/** A statement that ends a lease: a fenced update, or a bare release. */
type LeaseEndingStatement = ReturnType<typeof updateConnectionFencedStatement> | ReturnType<typeof releaseLeaseStatement>;

/**
 * The writes that end a lease: a new token set, a transient failure (cooldown), a permanent one
 * (needs_reauth), an integration fault (nothing on the row). Each is fenced by version *and*
 * lease owner (invariant 2) and releases the lease in the same statement.
 *
 * Each is one statement carrying everything that commits with it — the application events for
 * the webhook outbox, a refresh's event-log rows, the announcement to other instances — so on
 * PostgreSQL it costs one round trip (store/change-feed.ts `writeRowAndNotify`). Those events
 * are built before the statement is sent, from the row the fence guarantees it will leave
 * (`fencedRecordAfter`): when it lands, they describe exactly what landed; when it does not,
 * nothing is written.
 *
 * A successful refresh whose commit fails on storage trouble (another process holds the SQLite
 * write lock, PostgreSQL is restarting) is the one place a rotated refresh token could be lost
 * after the provider answered (invariant 3). The fence makes a retry safe — it can only ever land
 * on the row version the token set was made from — so it is retried in the background while the
 * uncommitted set is kept in memory and served from there; no refresh of that connection starts
 * in this process until it has landed.
 */
export class RefreshCommits {
  /** Token sets whose commit is being retried in the background (pending-commits.ts). */
  readonly pending: PendingCommits;
  private readonly options: RefreshCommitsOptions;

  constructor(options: RefreshCommitsOptions) {
    this.options = options;
    this.pending = new PendingCommits({
      db: options.db,
      clock: options.clock,
      logger: options.logger,
      leaseMs: options.leaseMs,
      retryForMs: options.commitRetryMs ?? 10 * 60_000,
      onCommitted: (record) => this.entryOf(record),
      onAbandoned: (id) => options.cache.delete(id),
    });
  }

  /**
   * Sends one statement on a connection's row with what commits with it (`appEvents` for the
   * webhook outbox, `logEvents` for the event log), announced to other processes in the same
   * statement. The row written, or null when the statement matched none.
   */
  private async commit(id: string, statement: LeaseEndingStatement, events: { appEvents?: readonly NewAppEvent[]; logEvents?: readonly NewEvent[] } = {}): Promise<ConnectionRecord | null> {
    const row = await this.options.changes.writeRowAndNotify(this.options.db, [{ kind: 'connection', id }], { statement, ...events });
    return row ? connectionFromRow(row) : null;
  }

  /** Ends the lease if this holder still has it, without changing anything else; the row then, if it did. */
  private releaseOnly(held: HeldConnection): Promise<ConnectionRecord | null> {
    return this.commit(held.leased.id, releaseLeaseStatement(this.options.db, held.leased.id, held.holder));
  }

  entryOf(record: ConnectionRecord): CacheEntry {
    const entry = { record, tokens: this.options.sealer.open(record), loadedAt: this.options.clock.now() };
    this.options.cache.set(entry);
    return entry;
  }

  /**
   * Stores a refreshed token set. `stored`: committed; `pending`: kept in memory while the commit
   * is retried; `fenced_out`: the row changed meanwhile and this set was discarded.
   */
  async success(held: HeldConnection, response: TokenSet, sentAt: number): Promise<{ entry: CacheEntry; outcome: 'stored' | 'pending' | 'fenced_out' }> {
    const { leased, holder, integration } = held;
    const { db, clock, sealer, events } = this.options;
    const tokens = nextStoredTokens(held.tokens, response);
    const now = clock.now();
    const patch: ConnectionPatch = {
      ...freshTokenPatch({ sealedTokens: sealer.seal(leased.id, tokens), response, scopesWhenOmitted: leased.scopes, issuedAt: sentAt, now }),
      metadata: { ...leased.metadata, ...pickMetadata(integration, response) },
    };
    const stored = fencedRecordAfter(leased, patch, holder);
    const recoveredFrom = recoveredStatusOf(leased);
    const ref = connectionRef(stored, integration);
    // `durationMs` runs to the commit being sent: the event log's row is written by that commit.
    const refreshed = {
      ...ref,
      durationMs: now - held.startedAt,
      rotated: response.refreshToken !== null && response.refreshToken !== held.tokens?.refresh_token,
      expiresAt: response.expiresAt,
      trigger: held.trigger,
    };
    const recovered = recoveredFrom === null ? null : { ...ref, previousStatus: recoveredFrom };
    // The application (connection.refreshed, .recovered) and the event log hear of it in the commit.
    const commitEvents = {
      appEvents: refreshedAppEvents(stored, integration, recoveredFrom, now),
      logEvents: [eventLogRow('token.refreshed', refreshed, now), ...(recovered ? [eventLogRow('connection.recovered', recovered, now)] : [])],
    };
    const announce = (): void => {
      events.emit('token.refreshed', refreshed);
      if (recovered) events.emit('connection.recovered', recovered);
    };
    const send = () => this.commit(leased.id, updateConnectionFencedStatement(db, leased.id, leased.version, patch, holder), commitEvents);
    try {
      const updated = await send();
      if (!updated) return { entry: await this.afterLostFence(held), outcome: 'fenced_out' };
      announce();
      return { entry: this.entryOf(updated), outcome: 'stored' };
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      // The provider has answered and may have rotated the refresh token: this set must land.
      const entry: CacheEntry = { record: stored, tokens, loadedAt: clock.now() };
      this.options.logger.error('could not store a refreshed token set; keeping it in memory and retrying', {
        connectionId: leased.id,
        error,
      });
      this.pending.retry({ id: leased.id, holder, entry, send, announce });
      return { entry, outcome: 'pending' };
    }
  }

  /**
   * The fence failed: the row changed under us (a reconnect, a delete, a holder whose lease we
   * outlived). Our lease, if we still hold it, is released (never left to lapse), and callers get
   * what is stored now.
   */
  private async afterLostFence(held: HeldConnection): Promise<CacheEntry> {
    const { db, logger, cache } = this.options;
    logger.warn('refresh result discarded: the connection changed while the refresh was in flight', { connectionId: held.leased.id });
    // A release that finds the lease still ours returns the row as it is now: no read after it.
    const released = await this.releaseOnly(held).catch(() => null);
    cache.delete(held.leased.id);
    const row = released ?? (await findConnection(db, held.leased.id));
    if (!row) {
      throw new TokenkeeperError('connection_not_found', `No connection "${held.leased.id}".`);
    }
    return this.entryOf(row);
  }

  /**
   * A transient failure: count it, set the cooldown (exponential with jitter, at least the
   * provider's `Retry-After`, at most `maxCooldownMs`), degrade after repeated failures. The
   * `unanswered_refresh_at` mark is only cleared (`clearMark`) when every request made with this
   * refresh token got an answer: otherwise the provider may have rotated it.
   */
  async transientFailure(
    held: HeldConnection,
    failure: { classification: Classification; clearMark: boolean; salvagedRefreshToken: string | null },
  ): Promise<void> {
    const { leased, integration } = held;
    const { clock, events, maxCooldownMs } = this.options;
    const { classification } = failure;
    const failures = leased.failureCount + 1;
    const cooldownMs = Math.min(maxCooldownMs, Math.max(classification.retryAfterMs ?? 0, cooldownDelay(failures, this.options.cooldown, this.options.random)));
    // A system connection still being minted stays pending: it has no token to degrade.
    const status = leased.status === 'pending' ? 'pending' : failures >= this.options.degradeAfterFailures ? 'degraded' : leased.status;
    const patch: ConnectionPatch = {
      status,
      statusReason: status === 'degraded' ? classification.reason : leased.statusReason,
      failureCount: failures,
      nextAttemptAt: clock.now() + cooldownMs,
      lastErrorCode: classification.providerError ?? classification.code,
      lastErrorMessage: classification.reason,
      updatedAt: clock.now(),
    };
    if (failure.clearMark) patch.unansweredRefreshAt = null;
    if (failure.salvagedRefreshToken !== null && held.tokens) {
      // A rejected 2xx carried a rotated refresh token: the old one is dead at the provider.
      patch.tokensSealed = this.options.sealer.seal(leased.id, { ...held.tokens, refresh_token: failure.salvagedRefreshToken });
      patch.lastRefreshAt = clock.now();
      patch.unansweredRefreshAt = null;
    }
    const updated = await this.commitWithRetry(held, patch, (after) => [
      connectionAppEvent('connection.refresh_failed', after, integration, clock.now(), { error_code: classification.code, reason: classification.reason }),
    ]);
    if (!updated) return;
    const ref = connectionRef(updated, integration);
    events.emit('token.refresh_failed', {
      ...ref,
      durationMs: clock.now() - held.startedAt,
      errorCode: classification.code,
      transient: true,
      description: classification.reason,
      trigger: held.trigger,
    });
    if (status === 'degraded' && leased.status !== 'degraded') {
      events.emit('connection.degraded', { ...ref, reason: classification.reason, failureCount: failures });
    }
  }

  /**
   * A permanent failure: the user must reconnect. `lostRefreshToken` says the provider refused a
   * refresh token after an earlier request with it got no answer: it most likely rotated the
   * token then, and the new one died with that request — reported as `refresh_token_lost`, not
   * as if the user had revoked access.
   */
  async permanentFailure(
    held: HeldConnection,
    failure: { reason: string; errorCode: string; lostRefreshTokenSince: number | null },
  ): Promise<ConnectionRecord | null> {
    const { leased, integration } = held;
    const { clock, events } = this.options;
    const lost = failure.lostRefreshTokenSince !== null;
    const reason = lost
      ? `a refresh sent at ${new Date(failure.lostRefreshTokenSince!).toISOString()} got no answer (the process stopped or stalled, or the network failed) and the provider has since refused the refresh token, so it most likely rotated it then`
      : failure.reason;
    const errorCode = lost ? 'refresh_token_lost' : failure.errorCode;
    const outbox = (after: ConnectionRecord): NewAppEvent[] => [connectionAppEvent('connection.needs_reauth', after, integration, clock.now(), { error_code: errorCode, reason })];
    const updated = await this.commitWithRetry(held, {
      status: 'needs_reauth',
      statusReason: reason,
      failureCount: leased.failureCount + 1,
      nextAttemptAt: null,
      unansweredRefreshAt: null,
      lastErrorCode: errorCode,
      lastErrorMessage: lost ? failure.reason : reason,
      updatedAt: clock.now(),
    }, outbox);
    if (!updated) return null;
    const ref = connectionRef(updated, integration);
    events.emit('token.refresh_failed', {
      ...ref,
      durationMs: clock.now() - held.startedAt,
      errorCode,
      transient: false,
      description: reason,
      trigger: held.trigger,
    });
    if (lost) events.emit('connection.refresh_token_lost', { ...ref, reason, interruptedAt: failure.lostRefreshTokenSince! });
    events.emit('connection.needs_reauth', { ...ref, reason, errorCode });
    return updated;
  }

  /** Ends the lease without changing the row's token state (optionally clearing the unanswered mark). */
  async release(held: HeldConnection, options: { clearMark: boolean }): Promise<void> {
    const { db, clock } = this.options;
    const id = held.leased.id;
    if (options.clearMark && held.leased.unansweredRefreshAt !== null) {
      // Only the mark this holder set may be cleared; a fenced write does both at once.
      const updated = await this.commit(id, updateConnectionFencedStatement(db, id, held.leased.version, { unansweredRefreshAt: null, updatedAt: clock.now() }, held.holder)).catch(() => null);
      if (updated) {
        this.entryOf(updated);
        return;
      }
    }
    await this.releaseOnly(held).catch(() => undefined);
  }

  /**
   * Failure bookkeeping is retried briefly on storage trouble; losing it only loses a counter.
   * `outbox`: the application events of the failure, built from the row it leaves and written
   * with it if it lands.
   */
  private async commitWithRetry(held: HeldConnection, patch: ConnectionPatch, outbox: (after: ConnectionRecord) => NewAppEvent[]): Promise<ConnectionRecord | null> {
    const { db, logger } = this.options;
    const id = held.leased.id;
    const statement = updateConnectionFencedStatement(db, id, held.leased.version, patch, held.holder);
    const appEvents = outbox(fencedRecordAfter(held.leased, patch, held.holder));
    for (let attempt = 0; ; attempt++) {
      try {
        const updated = await this.commit(id, statement, { appEvents });
        if (!updated) {
          await this.releaseOnly(held).catch(() => undefined);
          this.options.cache.delete(held.leased.id);
          return null;
        }
        this.entryOf(updated);
        return updated;
      } catch (error) {
        if (!isStorageUnavailable(error) || attempt >= 5) {
          logger.error('could not record a refresh failure', { connectionId: held.leased.id, error });
          return null;
        }
        await sleep(100 * 2 ** attempt);
      }
    }
  }
}

/**
 * What a successful refresh brings the connection back from, if anything: `degraded`; or, for a
 * system connection minted again after `needs_reauth` (ensureSystemConnection sets it back to
 * `pending` once the operator has changed the integration, keeping its old token set, which a
 * first mint never has), `needs_reauth`.
 */
export function recoveredStatusOf(leased: Pick<ConnectionRecord, 'status' | 'kind' | 'tokensSealed'>): string | null {
  if (leased.status === 'degraded') return 'degraded';
  if (leased.status === 'pending' && leased.kind === 'system' && leased.tokensSealed !== null) return 'needs_reauth';
  return null;
}

export function connectionRef(record: ConnectionRecord, integration: IntegrationView): ConnectionRef {
  return {
    connectionId: record.id,
    integrationKey: integration.record.key,
    provider: integration.provider.key,
    ownerId: record.ownerId,
  };
}

/** Non-secret provider facts worth keeping (Salesforce instance_url, Slack team, ...). */
export function pickMetadata(integration: IntegrationView, tokens: TokenSet): Record<string, unknown> {
  const fields = integration.provider.quirks.metadataFields ?? [];
  const out: Record<string, unknown> = {};
  for (const field of fields) if (tokens.extra[field] !== undefined) out[field] = tokens.extra[field];
  return out;
}
