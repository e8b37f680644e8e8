import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { KeyRing } from '../crypto/index.ts';
import { TokenkeeperError, isTokenkeeperError } from '../errors.ts';
import type { EventBus, RefreshTrigger } from '../events.ts';
import type { IntegrationService } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import {
  connectionReaderFor,
  type ConnectionReader,
  isStorageUnavailable,
  localChangeFeed,
  type ChangeFeed,
  type ConnectionRecord,
  type Database,
  type IntegrationRecord,
  type Outbox,
} from '../store/index.ts';
import { waitAtMost, type BackoffPolicy } from './backoff.ts';
import { OutboundGuard } from './outbound-guard.ts';
import { RefreshCommits } from './refresh-commits.ts';
import type { RefreshOutcome, RefreshRequest } from './refresh-request.ts';
import { RefreshRunner } from './refresh-runner.ts';
import { accessTokenDigest, replacesRefused } from './refused-token.ts';
import { TokenSealer, type StoredTokens } from './stored-tokens.ts';
import { TokenCache, type CacheEntry } from './token-cache.ts';
import { assertUsable, FALLBACK_VALIDITY_MS, isValidFor, requiredValidityMs, sweepThresholdMs } from './validity-rules.ts';

export type { RefreshOutcome };

/**
 * Tuning of the token service. Everything but the first seven has a default; tests shorten the
 * backoffs.
 */
export interface TokenServiceOptions {
  db: Database;
  keyRing: KeyRing;
  clock: Clock;
  events: EventBus;
  logger: Logger;
  integrations: IntegrationService;
  /** How long a refresh lease lasts; must exceed `refreshTimeoutMs` with room for the commit. */
  leaseMs: number;
  /** Timeout of one token-endpoint call. */
  refreshTimeoutMs: number;
  /** How long a caller waits for another process's refresh before `refresh_in_progress`. Default min(lease, 15 s). */
  waitForHolderMs?: number;
  /** Bound on how stale a cached row changed by another process can be. Default 1 s (invariant 10). */
  cacheMaxAgeMs?: number;
  /**
   * The cross-process invalidation channel (store/change-feed.ts): drops cached rows other
   * processes changed, wakes callers waiting for another process's refresh. Default: none (SQLite).
   */
  changes?: ChangeFeed;
  /** While the channel is live, how often a waiter re-reads the row anyway. Default 1 s. */
  holderPollMs?: number;
  /** Retries of a transient failure within one request (the sweep does not retry in-line). */
  requestRetry?: { attempts: number } & BackoffPolicy;
  /** Cooldown between failed refresh attempts of one connection. */
  cooldown?: BackoffPolicy;
  /** Ceiling of any cooldown, a provider's `Retry-After` included. Default 1 h. */
  maxCooldownMs?: number;
  /** Consecutive transient failures before an active connection is marked degraded. */
  degradeAfterFailures?: number;
  circuit?: { failureThreshold: number; openMs: number };
  /** Process identity written as lease owner. */
  processId?: string;
  /** Rate limiters and breakers of outbound calls, shared with the other modules that call providers. */
  guard?: OutboundGuard;
  random?: () => number;
}

export const DEFAULT_CIRCUIT = { failureThreshold: 5, openMs: 30_000 };

export interface TokenResult {
  connectionId: string;
  accessToken: string;
  tokenType: string;
  expiresAt: number | null;
  scopes: string[] | null;
}

export interface GetTokenOptions {
  /** The token must stay valid this long; default: the integration's (effective) refresh buffer. */
  minValiditySeconds?: number;
  trigger?: RefreshTrigger;
}

/**
 * `getToken` and the entry points of the one refresh path. The order of defences against a
 * double refresh, innermost last:
 *  1. in-process single flight: concurrent callers in this process share one promise;
 *  2. a lease on the row taken by compare-and-set: one holder across all processes
 *     (refresh-runner.ts);
 *  3. a fence on every commit, by version and lease owner (refresh-commits.ts).
 */
export class TokenService {
  readonly guard: OutboundGuard;
  /** The invalidation channel this service listens to and announces its writes on. */
  readonly changes: ChangeFeed;
  private readonly options: TokenServiceOptions;
  private readonly cache: TokenCache;
  private readonly sealer: TokenSealer;
  /** Cache misses; on PostgreSQL those of one event-loop turn share a statement. */
  private readonly reader: ConnectionReader;
  private readonly commits: RefreshCommits;
  private readonly runner: RefreshRunner;
  private readonly inflight = new Map<string, Flight>();
  private closing = false;

  constructor(options: TokenServiceOptions) {
    this.options = options;
    const random = options.random ?? Math.random;
    const requestRetry = options.requestRetry ?? { attempts: 2, baseMs: 250, maxMs: 2_000 };
    const changes = options.changes ?? localChangeFeed();
    this.changes = changes;
    this.cache = new TokenCache({ maxAgeMs: options.cacheMaxAgeMs ?? 1_000, trust: changes });
    // Another process changed a connection: drop it. Back after a loss: anything may have changed.
    changes.subscribe((signal) => {
      if (signal.kind === 'connection' && !signal.own) this.cache.delete(signal.id);
      else if (signal.kind === 'reconnected') this.cache.clear();
    });
    this.sealer = new TokenSealer(options.keyRing);
    this.reader = connectionReaderFor(options.db);
    this.guard = options.guard ?? new OutboundGuard({ clock: options.clock, events: options.events, circuit: options.circuit ?? DEFAULT_CIRCUIT });
    this.commits = new RefreshCommits({
      db: options.db,
      clock: options.clock,
      events: options.events,
      logger: options.logger,
      sealer: this.sealer,
      cache: this.cache,
      changes,
      leaseMs: options.leaseMs,
      cooldown: options.cooldown ?? { baseMs: 15_000, maxMs: 15 * 60_000 },
      maxCooldownMs: options.maxCooldownMs ?? 3_600_000,
      degradeAfterFailures: options.degradeAfterFailures ?? 3,
      random,
    });
    this.runner = new RefreshRunner({
      db: options.db,
      clock: options.clock,
      logger: options.logger,
      integrations: options.integrations,
      guard: this.guard,
      commits: this.commits,
      sealer: this.sealer,
      leaseMs: options.leaseMs,
      refreshTimeoutMs: options.refreshTimeoutMs,
      waitForHolderMs: options.waitForHolderMs ?? Math.min(options.leaseMs, 15_000),
      changes,
      holderPollMs: options.holderPollMs ?? 1_000,
      retryBackoff: requestRetry,
      processId: options.processId ?? `${process.pid}-${randomBytes(4).toString('hex')}`,
      random,
      isClosing: () => this.closing,
    });
    this.requestAttempts = requestRetry.attempts + 1;
  }

  private readonly requestAttempts: number;

  // --- reading ------------------------------------------------------------------------------

  sealTokens(id: string, tokens: StoredTokens): string {
    return this.sealer.seal(id, tokens);
  }

  /** Decrypted tokens of a row (for revocation and reconnects); never returned by the API. */
  peekTokens(record: ConnectionRecord): StoredTokens | null {
    return this.sealer.open(record);
  }

  private async load(id: string): Promise<CacheEntry> {
    const generation = this.cache.currentGeneration();
    const record = await this.reader.find(id);
    if (!record) {
      this.cache.delete(id);
      throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
    }
    const entry = { record, tokens: this.sealer.open(record), loadedAt: this.options.clock.now() };
    this.cache.set(entry, generation);
    return entry;
  }

  /**
   * The row from storage; when storage cannot be read at all (PostgreSQL restarting), the last
   * row this process knew, if the invalidation channel vouches it is still current
   * (`TokenCache.lastKnown`). Whatever is served from it must still pass the validity check.
   */
  private async loadOrLastKnown(id: string): Promise<{ entry: CacheEntry; readNow?: ConnectionRecord }> {
    try {
      const entry = await this.load(id);
      return { entry, readNow: entry.record };
    } catch (error) {
      const known = isStorageUnavailable(error) ? this.cache.lastKnown(id) : undefined;
      if (known) return { entry: known };
      throw error;
    }
  }

  /** Called by code that wrote a connection row outside the refresh path. */
  remember(record: ConnectionRecord): void {
    this.cache.delete(record.id);
    this.cache.set({ record, tokens: this.sealer.open(record), loadedAt: this.options.clock.now() });
  }

  forget(id: string): void {
    this.cache.delete(id);
  }

  /**
   * Runs a write of connection rows and announces it to the other processes in the same
   * transaction (PostgreSQL), so their caches drop those rows when it commits. `outbox`: the
   * application events the write causes, written in its transaction (store/change-feed.ts).
   */
  writeConnections<T>(ids: string[], write: (db: Database) => Promise<T>, outbox?: Outbox<T>): Promise<T> {
    return this.changes.writeAndNotify(this.options.db, ids.map((id) => ({ kind: 'connection' as const, id })), write, outbox);
  }

  // --- public API ---------------------------------------------------------------------------

  /**
   * A token valid for at least the required time (invariant 4), refreshing first if needed.
   * The fast path is two map lookups and two comparisons: no database, no decryption, no
   * provider (the integration's row comes from its in-process view, never from discovery).
   */
  async getToken(id: string, options: GetTokenOptions = {}): Promise<TokenResult> {
    const { clock, integrations, events } = this.options;
    let entry = this.commits.pending.entry(id) ?? this.cache.get(id, clock.now());
    // A row read from the database just now: a refresh starts from it instead of reading it again.
    let readNow: ConnectionRecord | undefined;
    if (entry === undefined) ({ entry, readNow } = await this.loadOrLastKnown(id));
    const view = integrations.peekRecordById(entry.record.integrationId) ?? (await integrations.recordById(entry.record.integrationId));
    assertUsable(entry.record, view.record);
    const needMs = requiredValidityMs(entry.record, view.record, options.minValiditySeconds);
    if (isValidFor(entry, needMs, clock.now())) {
      events.emit('token.served', { connectionId: id, outcome: 'cached' });
      return toResult(entry);
    }
    try {
      const outcome = await this.refresh(id, {
        trigger: options.trigger ?? 'request',
        needMs: (record, integration) => neededFor(record, integration, options.minValiditySeconds),
        force: false,
        maxAttempts: this.requestAttempts,
        rateWaitMs: 2_000,
        readNow,
      });
      entry = outcome.entry;
      const current = await integrations.recordById(entry.record.integrationId);
      assertUsable(entry.record, current.record);
      if (!isValidFor(entry, neededFor(entry.record, current.record, options.minValiditySeconds), clock.now())) {
        throw new TokenkeeperError('provider_unavailable', 'The provider returned a token that does not live as long as required.', {
          details: { expires_at: entry.record.expiresAt === null ? null : new Date(entry.record.expiresAt).toISOString() },
        });
      }
      events.emit('token.served', { connectionId: id, outcome: outcome.refreshed ? 'refreshed' : 'waited' });
      return toResult(entry);
    } catch (error) {
      // Without an explicit min_validity, a transient failure does not take a still-working token away.
      if (options.minValiditySeconds === undefined && isTokenkeeperError(error) && error.status === 503) {
        const current = this.commits.pending.entry(id) ?? this.cache.get(id, clock.now()) ?? entry;
        if (isValidFor(current, Math.min(needMs, FALLBACK_VALIDITY_MS), clock.now())) {
          events.emit('token.served', { connectionId: id, outcome: 'cached' });
          return toResult(current);
        }
      }
      events.emit('token.served', { connectionId: id, outcome: 'error', errorCode: isTokenkeeperError(error) ? error.code : 'internal_error' });
      throw error;
    }
  }

  /**
   * Refreshes now whatever the remaining validity (`POST /v1/connections/:id/refresh`). Succeeds
   * only with a token set obtained after the call began — never with the old one because a
   * concurrent holder failed.
   */
  async forceRefresh(id: string, trigger: RefreshTrigger = 'forced'): Promise<TokenResult> {
    const entry = this.cache.get(id, this.options.clock.now()) ?? (await this.load(id));
    assertUsable(entry.record, (await this.options.integrations.recordById(entry.record.integrationId)).record);
    const outcome = await this.refresh(id, { trigger, needMs: () => 0, force: true, maxAttempts: this.requestAttempts, rateWaitMs: 2_000 });
    if (!outcome.refreshed) throw new TokenkeeperError('refresh_in_progress', 'The connection changed while it was being refreshed; retry shortly.', { retryAfterMs: 1_000 });
    return toResult(outcome.entry);
  }

  /**
   * The refresh a provider's refusal of `refusedAccessToken` asks for (the proxy's 401): forced,
   * since the provider's word outranks the stored expiry, but answered with the stored token
   * instead when that is no longer the refused one — checked before the lease, again under it,
   * and by a caller that waited for another holder (refused-token.ts). So when two instances see
   * the token refused at the same moment, the provider gets one refresh, not one per instance.
   * Only the token's SHA-256 goes on into the refresh path.
   */
  async refreshRefused(id: string, refusedAccessToken: string): Promise<TokenResult> {
    const refusedTokenDigest = accessTokenDigest(refusedAccessToken);
    const entry = this.cache.get(id, this.options.clock.now()) ?? (await this.load(id));
    assertUsable(entry.record, (await this.options.integrations.recordById(entry.record.integrationId)).record);
    const outcome = await this.refresh(id, {
      trigger: 'forced',
      // A replacement is served only if it would be served to getToken: valid for the usual buffer.
      needMs: (record, integration) => neededFor(record, integration, undefined),
      force: true,
      refusedTokenDigest,
      maxAttempts: this.requestAttempts,
      rateWaitMs: 2_000,
    });
    if (!outcome.refreshed && !replacesRefused(outcome.entry, refusedTokenDigest)) {
      throw new TokenkeeperError('refresh_in_progress', 'The connection changed while it was being refreshed; retry shortly.', { retryAfterMs: 1_000 });
    }
    return toResult(outcome.entry);
  }

  /**
   * The sweep's entry point: refresh if the connection is due (the same single-flight path as a
   * request). Returns what happened; never throws for a provider failure.
   */
  async refreshIfDue(id: string, trigger: 'sweep' | 'idle' | 'system'): Promise<'refreshed' | 'skipped' | 'failed' | 'needs_reauth'> {
    try {
      // The refresh path reads the row and checks it is usable: nothing to read here first.
      const needMs = trigger === 'idle' ? () => Number.POSITIVE_INFINITY : sweepThresholdMs;
      // The rate-limiter wait is spent before the lease is taken, so the sweep may wait long.
      const outcome = await this.refresh(id, { trigger, needMs, force: trigger === 'idle', maxAttempts: 1, rateWaitMs: 30_000 });
      return outcome.refreshed ? 'refreshed' : 'skipped';
    } catch (error) {
      if (isTokenkeeperError(error, 'connection_needs_reauth') || isTokenkeeperError(error, 'refresh_token_lost')) return 'needs_reauth';
      if (
        isTokenkeeperError(error, 'refresh_cooldown') ||
        isTokenkeeperError(error, 'refresh_in_progress') ||
        isTokenkeeperError(error, 'shutting_down') ||
        isTokenkeeperError(error, 'connection_not_found') ||
        isTokenkeeperError(error, 'connection_revoked') ||
        isTokenkeeperError(error, 'integration_disabled') ||
        // Waits for its operator; the integration's own status says so, not every connection's sweep.
        isTokenkeeperError(error, 'integration_failing')
      ) {
        return 'skipped';
      }
      if (!isTokenkeeperError(error)) this.options.logger.error('sweep refresh failed unexpectedly', { connectionId: id, error });
      return 'failed';
    }
  }

  /** True once `drain()` has begun: long-running work (the sweep) should stop early. */
  isDraining(): boolean {
    return this.closing;
  }

  circuitStatus(integrationId: string): Promise<'closed' | 'open' | 'half_open'> {
    return this.guard.circuitStatus(integrationId);
  }

  /**
   * Shutdown (invariant 3): start no new refresh, let the provider calls in flight finish
   * (each is bounded by the refresh timeout) and commit what they returned, then give background
   * commits a last chance. Leases end with their commits. Resolves with how many token sets could
   * not be stored.
   */
  drain(): Promise<number> {
    // The server drains while it stops taking requests, then `close()` drains again: once is enough.
    this.draining ??= this.drainOnce();
    return this.draining;
  }

  private draining: Promise<number> | undefined;

  private async drainOnce(): Promise<number> {
    this.closing = true;
    const running = [...this.inflight.values()].map((flight) => flight.promise.catch(() => undefined));
    if (running.length > 0) {
      this.options.logger.info('waiting for refreshes in flight', { count: running.length });
      await waitAtMost(Promise.allSettled(running), this.options.leaseMs);
    }
    return this.commits.pending.drain(5_000);
  }

  // --- single flight ------------------------------------------------------------------------

  /**
   * One refresh per connection in this process: later callers join the promise in flight when
   * its outcome answers them too (`answers`), and otherwise run after it.
   */
  private refresh(id: string, request: RefreshRequest): Promise<RefreshOutcome> {
    if (this.closing) return Promise.reject(new TokenkeeperError('shutting_down'));
    const existing = this.inflight.get(id);
    if (existing && answers(existing, request)) return existing.promise;
    // After another flight the row the caller read is stale: that one reads it afresh.
    const start = existing
      ? existing.promise.catch(() => undefined).then(() => this.runner.run(id, { ...request, readNow: undefined }))
      : this.runner.run(id, request);
    const promise = start.finally(() => {
      if (this.inflight.get(id)?.promise === promise) this.inflight.delete(id);
    });
    this.inflight.set(id, { promise, force: request.force, refusedTokenDigest: request.refusedTokenDigest });
    return promise;
  }
}

interface Flight {
  promise: Promise<RefreshOutcome>;
  force: boolean;
  refusedTokenDigest: Buffer | undefined;
}

/**
 * Whether a refresh in flight answers a new request. A non-forced request takes any outcome. A
 * forced one does not join a non-forced flight (which may return without calling the provider),
 * nor, if it is a plain forced refresh, a refused token's flight (which may return another
 * holder's token without calling it either); a refused token's refresh joins a plain forced
 * flight or one for the same refused token.
 */
function answers(flight: Flight, request: RefreshRequest): boolean {
  if (!request.force) return true;
  if (!flight.force) return false;
  if (flight.refusedTokenDigest === undefined) return true;
  return request.refusedTokenDigest !== undefined && flight.refusedTokenDigest.equals(request.refusedTokenDigest);
}

/** The validity a caller needs from a row as it is now (its granted lifetime caps the buffer). */
function neededFor(record: ConnectionRecord, integration: IntegrationRecord, minValiditySeconds: number | undefined): number {
  try {
    return requiredValidityMs(record, integration, minValiditySeconds);
  } catch {
    // min_validity beyond this row's lifetime: the caller was checked on its own row already.
    return (minValiditySeconds ?? 0) * 1000;
  }
}

function toResult(entry: CacheEntry): TokenResult {
  return {
    connectionId: entry.record.id,
    accessToken: entry.tokens!.access_token,
    tokenType: entry.record.tokenType ?? 'Bearer',
    expiresAt: entry.record.expiresAt,
    scopes: entry.record.scopes,
  };
}
