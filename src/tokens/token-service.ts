import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { KeyRing } from '../crypto/index.ts';
import { TokenkeeperError, isTokenkeeperError, type ErrorCode } from '../errors.ts';
import type { ConnectionRef, EventBus, RefreshTrigger } from '../events.ts';
import type { IntegrationService, ResolvedIntegration } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import {
  classifyFailure,
  refreshAccessToken,
  requestClientCredentials,
  salvagedRefreshToken,
  type Classification,
  type TokenSet,
} from '../oauth/index.ts';
import {
  findConnection,
  releaseLease,
  tryAcquireLease,
  updateConnectionFenced,
  type ConnectionPatch,
  type ConnectionRecord,
  type Database,
} from '../store/index.ts';
import { cooldownDelay, fullJitterDelay, sleep, type BackoffPolicy } from './backoff.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { RateLimiter } from './rate-limiter.ts';
import { TokenCache, type CacheEntry, type StoredTokens } from './token-cache.ts';

export interface TokenServiceOptions {
  db: Database;
  keyRing: KeyRing;
  clock: Clock;
  events: EventBus;
  logger: Logger;
  integrations: IntegrationService;
  /** How long a refresh lease lasts; longer than a token-endpoint call can take. */
  leaseMs: number;
  /** Timeout of one token-endpoint call. */
  refreshTimeoutMs: number;
  /** How long a caller waits for another process's refresh before `refresh_in_progress`. */
  waitForHolderMs?: number;
  /** Bound on how stale a cached row changed by another process can be. */
  cacheMaxAgeMs?: number;
  /** Retries of a transient failure within one request (the sweep does not retry in-line). */
  requestRetry?: { attempts: number } & BackoffPolicy;
  /** Cooldown between failed refresh attempts of one connection. */
  cooldown?: BackoffPolicy;
  /** Consecutive transient failures before an active connection is marked degraded. */
  degradeAfterFailures?: number;
  circuit?: { failureThreshold: number; openMs: number };
  /** Process identity written as lease owner. */
  processId?: string;
  random?: () => number;
}

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

export interface RefreshOutcome {
  entry: CacheEntry;
  /** Whether this call (or the one it joined) obtained a new token set from the provider. */
  refreshed: boolean;
}

/** Without an explicit min_validity, a token still valid this long is served if a refresh fails transiently. */
const FALLBACK_VALIDITY_MS = 30_000;

interface InFlight {
  promise: Promise<RefreshOutcome>;
  force: boolean;
}

/**
 * `getToken` and the one refresh path (DESIGN.md, "Refresh, in one paragraph"). The order of
 * defences against double refresh, innermost last:
 *  1. in-process single flight: concurrent callers in this process share one promise;
 *  2. a lease on the row taken by compare-and-set: one holder across all processes;
 *  3. a version fence on the commit: a holder whose lease expired mid-call cannot overwrite the
 *     token set a newer holder committed.
 */
export class TokenService {
  private readonly options: Required<Omit<TokenServiceOptions, 'random'>> & { random: () => number };
  private readonly cache: TokenCache;
  private readonly inflight = new Map<string, InFlight>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly limiters = new Map<string, RateLimiter>();

  constructor(options: TokenServiceOptions) {
    this.options = {
      waitForHolderMs: Math.min(options.leaseMs, 15_000),
      cacheMaxAgeMs: 5_000,
      requestRetry: { attempts: 2, baseMs: 250, maxMs: 2_000 },
      cooldown: { baseMs: 15_000, maxMs: 15 * 60_000 },
      degradeAfterFailures: 3,
      circuit: { failureThreshold: 5, openMs: 30_000 },
      processId: `${process.pid}-${randomBytes(4).toString('hex')}`,
      random: Math.random,
      ...options,
    } as TokenService['options'];
    this.cache = new TokenCache({ maxAgeMs: this.options.cacheMaxAgeMs });
  }

  // --- reading ------------------------------------------------------------------------------

  private tokensAad(id: string): string {
    return `connections:${id}:tokens`;
  }

  sealTokens(id: string, tokens: StoredTokens): string {
    return this.options.keyRing.seal(JSON.stringify(tokens), this.tokensAad(id));
  }

  private entryOf(record: ConnectionRecord): CacheEntry {
    const tokens = record.tokensSealed
      ? (JSON.parse(this.options.keyRing.open(record.tokensSealed, this.tokensAad(record.id))) as StoredTokens)
      : null;
    const entry = { record, tokens, loadedAt: this.options.clock.now() };
    this.cache.set(entry);
    return entry;
  }

  private async load(id: string): Promise<CacheEntry> {
    const record = await findConnection(this.options.db, id);
    if (!record) {
      this.cache.delete(id);
      throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
    }
    return this.entryOf(record);
  }

  /** Decrypted tokens of a row (for revocation and reconnects); never returned by the API. */
  peekTokens(record: ConnectionRecord): StoredTokens | null {
    return record.tokensSealed
      ? (JSON.parse(this.options.keyRing.open(record.tokensSealed, this.tokensAad(record.id))) as StoredTokens)
      : null;
  }

  /** Called by code that wrote a connection row outside this service. */
  remember(record: ConnectionRecord): void {
    this.cache.delete(record.id);
    this.entryOf(record);
  }

  forget(id: string): void {
    this.cache.delete(id);
  }

  // --- validity -----------------------------------------------------------------------------

  /**
   * The refresh buffer, capped at half the lifetime the provider granted: with a 120 s token and
   * a 300 s buffer every request would otherwise refresh.
   */
  effectiveBufferMs(record: ConnectionRecord, integration: ResolvedIntegration): number {
    const bufferMs = integration.record.refreshBufferSeconds * 1000;
    const lifetime = grantedLifetimeMs(record);
    return lifetime === null ? bufferMs : Math.min(bufferMs, Math.floor(lifetime / 2));
  }

  private requiredValidityMs(record: ConnectionRecord, integration: ResolvedIntegration, minValiditySeconds: number | undefined): number {
    if (minValiditySeconds === undefined) return this.effectiveBufferMs(record, integration);
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

  private assertUsable(record: ConnectionRecord, integration: ResolvedIntegration): void {
    if (!integration.record.enabled) throw new TokenkeeperError('integration_disabled', `The integration "${integration.record.key}" is disabled.`);
    switch (record.status) {
      case 'active':
      case 'degraded':
        return;
      case 'pending':
        throw new TokenkeeperError('connection_pending');
      case 'revoked':
        throw new TokenkeeperError('connection_revoked');
      case 'needs_reauth':
        throw new TokenkeeperError('connection_needs_reauth', `The connection needs the user to reconnect: ${record.statusReason ?? 'the provider rejected its refresh token'}.`, {
          details: { reason: record.statusReason, provider_error: record.lastErrorCode },
        });
    }
  }

  // --- public API ---------------------------------------------------------------------------

  /**
   * A token valid for at least the required time (invariant 4), refreshing first if needed.
   * The fast path is a map lookup and two comparisons: no database, no decryption.
   */
  async getToken(id: string, options: GetTokenOptions = {}): Promise<TokenResult> {
    const { clock, integrations, events } = this.options;
    let entry = this.cache.get(id, clock.now()) ?? (await this.load(id));
    let integration = await integrations.resolveById(entry.record.integrationId);
    this.assertUsable(entry.record, integration);
    const needMs = this.requiredValidityMs(entry.record, integration, options.minValiditySeconds);
    if (isValidFor(entry, needMs, clock.now())) {
      events.emit('token.served', { connectionId: id, outcome: 'cached' });
      return toResult(entry);
    }
    try {
      const outcome = await this.refresh(id, { trigger: options.trigger ?? 'request', needMs, force: false });
      entry = outcome.entry;
      integration = await integrations.resolveById(entry.record.integrationId);
      this.assertUsable(entry.record, integration);
      if (!isValidFor(entry, needMs, clock.now())) {
        throw new TokenkeeperError('provider_unavailable', 'The provider returned a token that does not live as long as required.', {
          details: { expires_at: entry.record.expiresAt },
        });
      }
      events.emit('token.served', { connectionId: id, outcome: outcome.refreshed ? 'refreshed' : 'waited' });
      return toResult(entry);
    } catch (error) {
      // Without an explicit min_validity, a transient failure does not take a still-working token away.
      if (options.minValiditySeconds === undefined && isTokenkeeperError(error) && error.status === 503) {
        const current = this.cache.get(id, clock.now()) ?? entry;
        if (current.record.status !== 'needs_reauth' && isValidFor(current, Math.min(needMs, FALLBACK_VALIDITY_MS), clock.now())) {
          events.emit('token.served', { connectionId: id, outcome: 'cached' });
          return toResult(current);
        }
      }
      events.emit('token.served', { connectionId: id, outcome: 'error', errorCode: isTokenkeeperError(error) ? error.code : 'internal_error' });
      throw error;
    }
  }

  /** Refreshes now whatever the remaining validity (`POST /v1/connections/:id/refresh`). */
  async forceRefresh(id: string, trigger: RefreshTrigger = 'forced'): Promise<TokenResult> {
    const entry = this.cache.get(id, this.options.clock.now()) ?? (await this.load(id));
    const integration = await this.options.integrations.resolveById(entry.record.integrationId);
    this.assertUsable(entry.record, integration);
    const outcome = await this.refresh(id, { trigger, needMs: 0, force: true });
    return toResult(outcome.entry);
  }

  /**
   * The sweep's entry point: refresh if the connection is due (same single-flight path as a
   * request). Returns what happened, never throws for a provider failure.
   */
  async refreshIfDue(
    id: string,
    trigger: 'sweep' | 'idle' | 'system',
  ): Promise<'refreshed' | 'skipped' | 'failed' | 'needs_reauth'> {
    try {
      const entry = await this.load(id);
      const integration = await this.options.integrations.resolveById(entry.record.integrationId);
      this.assertUsable(entry.record, integration);
      const needMs = trigger === 'idle' ? Number.POSITIVE_INFINITY : sweepThresholdMs(entry.record, integration);
      const outcome = await this.refresh(id, { trigger, needMs, force: trigger === 'idle', maxAttempts: 1, rateWaitMs: 30_000 });
      return outcome.refreshed ? 'refreshed' : 'skipped';
    } catch (error) {
      if (isTokenkeeperError(error, 'connection_needs_reauth')) return 'needs_reauth';
      if (isTokenkeeperError(error, 'refresh_cooldown') || isTokenkeeperError(error, 'refresh_in_progress')) return 'skipped';
      if (isTokenkeeperError(error, 'connection_not_found') || isTokenkeeperError(error, 'connection_revoked')) return 'skipped';
      if (!isTokenkeeperError(error)) this.options.logger.error('sweep refresh failed unexpectedly', { connectionId: id, error });
      return 'failed';
    }
  }

  // --- the refresh path ---------------------------------------------------------------------

  private refresh(
    id: string,
    options: { trigger: RefreshTrigger; needMs: number; force: boolean; maxAttempts?: number; rateWaitMs?: number },
  ): Promise<RefreshOutcome> {
    const existing = this.inflight.get(id);
    if (existing && (existing.force || !options.force)) return existing.promise;
    const start = existing ? existing.promise.catch(() => undefined).then(() => this.refreshOnce(id, options)) : this.refreshOnce(id, options);
    const promise = start.finally(() => {
      if (this.inflight.get(id)?.promise === promise) this.inflight.delete(id);
    });
    this.inflight.set(id, { promise, force: options.force });
    return promise;
  }

  private async refreshOnce(
    id: string,
    options: { trigger: RefreshTrigger; needMs: number; force: boolean; maxAttempts?: number; rateWaitMs?: number },
  ): Promise<RefreshOutcome> {
    const { db, clock, leaseMs } = this.options;
    const leaseOwner = `${this.options.processId}:${randomBytes(3).toString('hex')}`;
    const leased = await tryAcquireLease(db, id, leaseOwner, clock.now(), leaseMs);
    if (!leased) {
      const exists = await findConnection(db, id);
      if (!exists) throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
      return this.waitForHolder(id, exists, options);
    }
    let released = false;
    try {
      const entry = this.entryOf(leased);
      const integration = await this.options.integrations.resolveById(leased.integrationId);
      this.assertUsable(leased, integration);
      // Someone (another process) may have refreshed between our read and the lease.
      if (!options.force && isValidFor(entry, options.needMs, clock.now())) return { entry, refreshed: false };
      if (options.trigger !== 'forced' && leased.nextAttemptAt !== null && leased.nextAttemptAt > clock.now()) {
        throw new TokenkeeperError('refresh_cooldown', undefined, {
          retryAfterMs: leased.nextAttemptAt - clock.now(),
          details: { next_attempt_at: new Date(leased.nextAttemptAt).toISOString(), last_error: leased.lastErrorCode },
        });
      }
      const useClientCredentials = leased.kind === 'system' && integration.record.systemGrant === 'client_credentials';
      const refreshToken = entry.tokens?.refresh_token ?? null;
      if (!useClientCredentials && !refreshToken) {
        if (entry.record.expiresAt !== null && entry.record.expiresAt <= clock.now()) {
          const updated = await this.commitPermanentFailure(leased, integration, leaseOwner, 'the access token expired and the provider issued no refresh token', 'no_refresh_token', options.trigger, 0);
          released = updated;
        }
        throw new TokenkeeperError('no_refresh_token');
      }
      const result = await this.callProvider(leased, entry, integration, leaseOwner, options, useClientCredentials);
      released = true;
      return result;
    } finally {
      if (!released) await releaseLease(db, id, leaseOwner).catch(() => undefined);
    }
  }

  /** Calls the token endpoint (with bounded retries) and commits the outcome. Releases the lease. */
  private async callProvider(
    leased: ConnectionRecord,
    entry: CacheEntry,
    integration: ResolvedIntegration,
    leaseOwner: string,
    options: { trigger: RefreshTrigger; maxAttempts?: number; rateWaitMs?: number },
    useClientCredentials: boolean,
  ): Promise<RefreshOutcome> {
    const { clock, requestRetry, refreshTimeoutMs, leaseMs } = this.options;
    const breaker = this.breakerFor(integration);
    const limiter = this.limiterFor(integration);
    const attempts = Math.max(1, options.maxAttempts ?? requestRetry.attempts + 1);
    const deadline = clock.now() + leaseMs - refreshTimeoutMs;
    const started = clock.now();
    let lastFailure: Classification | null = null;
    for (let attempt = 0; ; attempt++) {
      const pass = breaker.tryPass();
      if (!pass.allowed) {
        // The breaker opened during our own retries: the failure we saw still counts against the connection.
        if (lastFailure) await this.commitTransientFailure(leased, integration, leaseOwner, lastFailure, options.trigger, clock.now() - started);
        throw new TokenkeeperError('circuit_open', `Calls to ${integration.provider.displayName} are paused after repeated failures.`, {
          retryAfterMs: pass.retryAfterMs,
        });
      }
      if (!(await limiter.acquire(options.rateWaitMs ?? 2_000))) {
        breaker.recordNeutral();
        throw new TokenkeeperError('provider_unavailable', 'The outbound rate limit for this provider is exhausted; retry shortly.', {
          retryAfterMs: 1_000,
        });
      }
      const sentAt = clock.now();
      let tokens: TokenSet;
      try {
        const signal = AbortSignal.timeout(refreshTimeoutMs);
        tokens = useClientCredentials
          ? await requestClientCredentials(integration.client, { scopes: integration.record.systemScopes ?? undefined, clock, signal })
          : await refreshAccessToken(integration.client, entry.tokens!.refresh_token!, { clock, signal });
      } catch (error) {
        limiter.release();
        const classification = classifyFailure(error, integration.provider);
        if (classification.kind === 'permanent') {
          breaker.recordNeutral();
          await this.commitPermanentFailure(leased, integration, leaseOwner, classification.reason, classification.providerError ?? classification.code, options.trigger, clock.now() - started);
          throw new TokenkeeperError('connection_needs_reauth', `The provider rejected the refresh: ${classification.reason}. The user must reconnect.`, {
            details: { reason: classification.reason, provider_error: classification.providerError },
          });
        }
        if (breaker.recordFailure()) {
          this.options.events.emit('circuit.opened', { provider: integration.provider.key, integrationKey: integration.record.key, failures: this.options.circuit.failureThreshold });
        }
        const delay = classification.retryAfterMs ?? fullJitterDelay(attempt, requestRetry, this.options.random);
        lastFailure = classification;
        // A rejected 2xx may still carry a rotated refresh token: the old one is dead at the
        // provider, so keep the new one (invariant 3) and do not retry with the old one.
        const salvaged = salvagedRefreshToken(error);
        if (salvaged !== null && entry.tokens) {
          await this.commitTransientFailure(leased, integration, leaseOwner, classification, options.trigger, clock.now() - started, {
            ...entry.tokens,
            refresh_token: salvaged,
          });
          throw new TokenkeeperError(classification.code, `Refresh failed: ${classification.reason}.`, {
            details: { reason: classification.reason, provider_error: classification.providerError },
          });
        }
        if (attempt + 1 < attempts && clock.now() + delay < deadline && delay <= requestRetry.maxMs) {
          this.options.logger.debug('token endpoint failed transiently, retrying', { connectionId: leased.id, attempt, delayMs: delay, error: classification.reason });
          await sleep(delay);
          continue;
        }
        await this.commitTransientFailure(leased, integration, leaseOwner, classification, options.trigger, clock.now() - started);
        throw new TokenkeeperError(classification.code, `Refresh failed: ${classification.reason}.`, {
          retryAfterMs: classification.retryAfterMs ?? undefined,
          details: { reason: classification.reason, provider_error: classification.providerError },
        });
      }
      limiter.release();
      if (breaker.recordSuccess()) {
        this.options.events.emit('circuit.closed', { provider: integration.provider.key, integrationKey: integration.record.key });
      }
      return this.commitSuccess(leased, entry, integration, leaseOwner, tokens, sentAt, options.trigger, clock.now() - started);
    }
  }

  private async commitSuccess(
    leased: ConnectionRecord,
    entry: CacheEntry,
    integration: ResolvedIntegration,
    leaseOwner: string,
    tokens: TokenSet,
    sentAt: number,
    trigger: RefreshTrigger,
    durationMs: number,
  ): Promise<RefreshOutcome> {
    const { db, clock, events, logger } = this.options;
    // RFC 6749 §6: a new refresh token replaces the old one, which must then be discarded; a
    // response without one keeps the old one (invariant 3: a refresh token is never dropped).
    const previousRefresh = entry.tokens?.refresh_token ?? null;
    const nextTokens: StoredTokens = {
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken ?? previousRefresh,
      id_token: tokens.idToken ?? entry.tokens?.id_token ?? null,
    };
    const patch: ConnectionPatch = {
      tokensSealed: this.sealTokens(leased.id, nextTokens),
      tokenType: tokens.tokenType,
      scopes: tokens.scopes ?? leased.scopes,
      expiresAt: tokens.expiresAt,
      issuedAt: sentAt,
      lastRefreshAt: sentAt,
      metadata: { ...leased.metadata, ...pickMetadata(integration, tokens) },
      status: 'active',
      statusReason: null,
      failureCount: 0,
      nextAttemptAt: null,
      lastErrorCode: null,
      lastErrorMessage: null,
      updatedAt: clock.now(),
    };
    // Committed before anyone sees it (invariant 3); fenced by version (invariant 2).
    const updated = await updateConnectionFenced(db, leased.id, leased.version, patch, leaseOwner);
    if (!updated) {
      logger.warn('refresh result discarded: a newer token set was committed while this one was in flight', { connectionId: leased.id });
      return { entry: await this.load(leased.id), refreshed: false };
    }
    const ref = connectionRef(updated, integration);
    events.emit('token.refreshed', {
      ...ref,
      durationMs,
      rotated: tokens.refreshToken !== null && tokens.refreshToken !== previousRefresh,
      expiresAt: tokens.expiresAt,
      trigger,
    });
    if (leased.status === 'degraded') events.emit('connection.recovered', { ...ref, previousStatus: leased.status });
    return { entry: this.entryOf(updated), refreshed: true };
  }

  private async commitTransientFailure(
    leased: ConnectionRecord,
    integration: ResolvedIntegration,
    leaseOwner: string,
    classification: { code: ErrorCode; reason: string; providerError: string | null; retryAfterMs: number | null },
    trigger: RefreshTrigger,
    durationMs: number,
    salvagedTokens?: StoredTokens,
  ): Promise<void> {
    const { db, clock, events } = this.options;
    const failures = leased.failureCount + 1;
    const cooldownMs = Math.max(classification.retryAfterMs ?? 0, cooldownDelay(failures, this.options.cooldown, this.options.random));
    const status = failures >= this.options.degradeAfterFailures ? 'degraded' : leased.status;
    const updated = await updateConnectionFenced(
      db,
      leased.id,
      leased.version,
      {
        status,
        statusReason: status === 'degraded' ? classification.reason : leased.statusReason,
        failureCount: failures,
        nextAttemptAt: clock.now() + cooldownMs,
        lastErrorCode: classification.providerError ?? classification.code,
        lastErrorMessage: classification.reason,
        updatedAt: clock.now(),
        ...(salvagedTokens ? { tokensSealed: this.sealTokens(leased.id, salvagedTokens), lastRefreshAt: clock.now() } : {}),
      },
      leaseOwner,
    );
    if (!updated) return;
    this.entryOf(updated);
    const ref = connectionRef(updated, integration);
    events.emit('token.refresh_failed', { ...ref, durationMs, errorCode: classification.code, transient: true, description: classification.reason, trigger });
    if (status === 'degraded' && leased.status !== 'degraded') {
      events.emit('connection.degraded', { ...ref, reason: classification.reason, failureCount: failures });
    }
  }

  /** Returns whether the lease was released by the write. */
  private async commitPermanentFailure(
    leased: ConnectionRecord,
    integration: ResolvedIntegration,
    leaseOwner: string,
    reason: string,
    errorCode: string,
    trigger: RefreshTrigger,
    durationMs: number,
  ): Promise<boolean> {
    const { db, clock, events } = this.options;
    const updated = await updateConnectionFenced(
      db,
      leased.id,
      leased.version,
      {
        status: 'needs_reauth',
        statusReason: reason,
        failureCount: leased.failureCount + 1,
        nextAttemptAt: null,
        lastErrorCode: errorCode,
        lastErrorMessage: reason,
        updatedAt: clock.now(),
      },
      leaseOwner,
    );
    if (!updated) return false;
    this.entryOf(updated);
    const ref = connectionRef(updated, integration);
    events.emit('token.refresh_failed', { ...ref, durationMs, errorCode, transient: false, description: reason, trigger });
    events.emit('connection.needs_reauth', { ...ref, reason, errorCode });
    return true;
  }

  /**
   * Another process holds the lease. Poll the row until its version moves (the holder committed)
   * or the lease is gone, bounded by `waitForHolderMs`; then serve what is there. Polling is
   * cheap on SQLite and PostgreSQL alike and needs no notification channel to be correct.
   */
  private async waitForHolder(
    id: string,
    seen: ConnectionRecord,
    options: { trigger: RefreshTrigger; needMs: number; force: boolean },
  ): Promise<RefreshOutcome> {
    const { db, clock, waitForHolderMs } = this.options;
    const startedAt = Date.now();
    let interval = 20;
    for (;;) {
      await sleep(interval);
      interval = Math.min(200, interval * 2);
      const row = await findConnection(db, id);
      if (!row) throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
      const moved = row.version !== seen.version;
      const leaseGone = row.leaseUntil === null || row.leaseUntil < clock.now();
      if (moved || leaseGone) {
        const entry = this.entryOf(row);
        if (moved || isValidFor(entry, options.needMs, clock.now())) return { entry, refreshed: moved };
        // The holder gave up without committing (crash, failure): try to take the lease ourselves.
        return this.refreshOnce(id, { ...options, maxAttempts: 1 });
      }
      if (Date.now() - startedAt > waitForHolderMs) {
        const entry = this.entryOf(row);
        if (isValidFor(entry, options.needMs, clock.now())) return { entry, refreshed: false };
        throw new TokenkeeperError('refresh_in_progress', undefined, { retryAfterMs: 1_000 });
      }
    }
  }

  private breakerFor(integration: ResolvedIntegration): CircuitBreaker {
    let breaker = this.breakers.get(integration.record.id);
    if (!breaker) this.breakers.set(integration.record.id, (breaker = new CircuitBreaker(this.options.circuit, this.options.clock)));
    return breaker;
  }

  private limiterFor(integration: ResolvedIntegration): RateLimiter {
    let limiter = this.limiters.get(integration.record.id);
    if (!limiter) this.limiters.set(integration.record.id, (limiter = new RateLimiter(integration.provider.rateLimit, this.options.clock)));
    return limiter;
  }

  circuitStatus(integrationId: string): 'closed' | 'open' | 'half_open' {
    return this.breakers.get(integrationId)?.status ?? 'closed';
  }
}

export function grantedLifetimeMs(record: ConnectionRecord): number | null {
  if (record.expiresAt === null || record.issuedAt === null) return null;
  const lifetime = record.expiresAt - record.issuedAt;
  return lifetime > 0 ? lifetime : null;
}

/** The sweep refreshes when less than max(buffer, 25 % of the granted lifetime) remains. */
export function sweepThresholdMs(record: ConnectionRecord, integration: ResolvedIntegration): number {
  const bufferMs = integration.record.refreshBufferSeconds * 1000;
  const lifetime = grantedLifetimeMs(record);
  return lifetime === null ? bufferMs : Math.max(Math.min(bufferMs, lifetime / 2), lifetime / 4);
}

function isValidFor(entry: CacheEntry, needMs: number, now: number): boolean {
  if (!entry.tokens) return false;
  if (entry.record.status !== 'active' && entry.record.status !== 'degraded') return false;
  if (entry.record.expiresAt === null) return needMs !== Number.POSITIVE_INFINITY;
  return entry.record.expiresAt - now >= needMs;
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

export function connectionRef(record: ConnectionRecord, integration: ResolvedIntegration): ConnectionRef {
  return {
    connectionId: record.id,
    integrationKey: integration.record.key,
    provider: integration.provider.key,
    ownerId: record.ownerId,
  };
}

/** Non-secret provider facts worth keeping (Salesforce instance_url, Slack team, ...). */
export function pickMetadata(integration: ResolvedIntegration, tokens: TokenSet): Record<string, unknown> {
  const fields = integration.provider.quirks.metadataFields ?? [];
  const out: Record<string, unknown> = {};
  for (const field of fields) if (tokens.extra[field] !== undefined) out[field] = tokens.extra[field];
  return out;
}
