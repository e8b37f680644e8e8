import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { IntegrationService, ResolvedIntegration } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import { extendLease, findConnection, releaseLease, tryAcquireLease, type ChangeFeed, type ConnectionRecord, type Database } from '../store/index.ts';
import { fullJitterDelay, sleep, type BackoffPolicy } from './backoff.ts';
import { waitForHolder } from './holder-wait.ts';
import type { OutboundGuard, OutboundPermit } from './outbound-guard.ts';
import type { HeldConnection, RefreshCommits } from './refresh-commits.ts';
import type { RefreshOutcome, RefreshRequest } from './refresh-request.ts';
import { storedTokenAnswers } from './refused-token.ts';
import type { TokenSealer } from './stored-tokens.ts';
import { callTokenEndpoint, type TokenGrant } from './token-endpoint-call.ts';
import { assertUsable } from './validity-rules.ts';

export interface RefreshRunnerOptions {
  db: Database;
  clock: Clock;
  logger: Logger;
  integrations: IntegrationService;
  guard: OutboundGuard;
  commits: RefreshCommits;
  sealer: TokenSealer;
  /** How long a refresh lease lasts. */
  leaseMs: number;
  /** Timeout of one token-endpoint call; always well inside the lease. */
  refreshTimeoutMs: number;
  waitForHolderMs: number;
  /** Wakes a waiter when the holder's commit is announced (holder-wait.ts). */
  changes: ChangeFeed;
  /** A waiter's re-read interval while `changes` is live. */
  holderPollMs: number;
  /** Backoff between attempts within one refresh. */
  retryBackoff: BackoffPolicy;
  processId: string;
  random: () => number;
  isClosing(): boolean;
}

/**
 * The one refresh path, from the lease to the commit (DESIGN.md, "Refresh, in one paragraph").
 * The order matters; each step closes a race:
 *
 * 1. Read the row (or take the one the caller read from the database a moment before,
 *    `readNow`); a token another process refreshed meanwhile is simply returned (for a refresh
 *    a refused token asked for: any valid token other than the refused one, refused-token.ts).
 * 2. Resolve the integration (discovery) before the lease: it can take seconds, and time spent
 *    holding a lease is time a crashed holder blocks everyone.
 * 3. Take the lease by compare-and-set; without it, wait for the holder instead. The row the
 *    lease statement returns is checked again as in step 1: a holder may have committed since
 *    our read. Only then wait for the rate limiter, bounded so the call still fits in the lease:
 *    callers that lost the lease race never touch the limiter, so on PostgreSQL, where the
 *    limiter is shared by every instance, four instances racing for fifty connections take
 *    fifty permits, not two hundred.
 * 4. Before every provider call, extend the lease by compare-and-set on the owner, and in the
 *    same statement mark the row "a refresh request is unanswered". The call's timeout is well
 *    inside the extended lease, so the lease cannot lapse under a live holder's call; a holder
 *    that cannot extend (its lease was taken over) does not call at all.
 * 5. Commit the outcome fenced by version and lease owner, releasing the lease in one statement.
 *
 * What cannot be closed: a process that dies (kill -9) or stalls past its lease *after* the
 * provider rotated the refresh token and *before* the commit. The new refresh token existed only
 * in that process. The unanswered mark lets the next holder recognise the case when the provider
 * then refuses the old token, and report `refresh_token_lost` instead of an ordinary revocation.
 */
export class RefreshRunner {
  private readonly options: RefreshRunnerOptions;

  constructor(options: RefreshRunnerOptions) {
    this.options = options;
  }

  async run(id: string, request: RefreshRequest, retried = false): Promise<RefreshOutcome> {
    const { db, clock, integrations, guard, commits } = this.options;
    if (this.options.isClosing()) throw new TokenkeeperError('shutting_down');
    // A commit of this process being retried makes any row read before it stale.
    const readNow = !retried && commits.pending.entry(id) === undefined ? request.readNow : undefined;
    await commits.pending.settled(id);

    const row = readNow ?? (await findConnection(db, id));
    if (!row) throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
    const view = await integrations.recordById(row.integrationId);
    assertUsable(row, view.record);
    const current = commits.entryOf(row);
    if (storedTokenAnswers(current, request, request.needMs(row, view.record), clock.now())) return { entry: current, refreshed: false };
    if (row.leaseUntil !== null && row.leaseUntil >= clock.now()) return this.wait(id, row, request, retried);
    this.assertRefreshAllowed(row, view.record, request);

    const integration = await integrations.resolveById(row.integrationId);
    const holder = `${this.options.processId}:${randomBytes(3).toString('hex')}`;
    const leased = await tryAcquireLease(db, id, holder, clock.now(), this.options.leaseMs);
    if (!leased) {
      const seen = await findConnection(db, id);
      if (!seen) throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
      return this.wait(id, seen, request, retried);
    }
    let tokens: HeldConnection['tokens'];
    try {
      tokens = this.options.sealer.open(leased);
    } catch (error) {
      // Undecryptable (a key left the ring): give the lease back at once.
      await releaseLease(db, id, holder).catch(() => undefined);
      throw error;
    }
    return this.holding({ leased, tokens, holder, integration, trigger: request.trigger, startedAt: clock.now() }, integration, request);
  }

  private wait(id: string, seen: ConnectionRecord, request: RefreshRequest, retried: boolean): Promise<RefreshOutcome> {
    const { db, clock, integrations, commits, waitForHolderMs, changes, holderPollMs } = this.options;
    return waitForHolder(
      {
        db,
        clock,
        integrations,
        waitForHolderMs,
        changes,
        holderPollMs,
        entryOf: (record) => commits.entryOf(record),
        isClosing: () => this.options.isClosing(),
        retry: (next) => this.run(id, next, true),
      },
      id,
      seen,
      request,
      retried,
    );
  }

  /** Cooldown after failures (not for a forced refresh) and an integration an operator must fix. */
  private assertRefreshAllowed(row: ConnectionRecord, integration: ResolvedIntegration['record'], request: RefreshRequest): void {
    const now = this.options.clock.now();
    if (integration.failingSince !== null) {
      throw new TokenkeeperError('integration_failing', undefined, {
        details: { integration: integration.key, provider_error: integration.failureCode, reason: integration.failureMessage },
      });
    }
    if (request.trigger !== 'forced' && row.nextAttemptAt !== null && row.nextAttemptAt > now) {
      throw new TokenkeeperError('refresh_cooldown', undefined, {
        retryAfterMs: row.nextAttemptAt - now,
        details: { next_attempt_at: new Date(row.nextAttemptAt).toISOString(), last_error: row.lastErrorCode },
      });
    }
  }

  private async holding(held: HeldConnection, integration: ResolvedIntegration, request: RefreshRequest): Promise<RefreshOutcome> {
    const { db, clock, guard, commits, leaseMs, refreshTimeoutMs } = this.options;
    const { leased } = held;
    let permit: OutboundPermit | null = null;
    let leaseEnded = false;
    // The earliest request with this refresh token whose answer never arrived: an earlier
    // holder's (see migration 0002), or one of ours that timed out. Only a success clears it.
    let unansweredSince = leased.unansweredRefreshAt;
    // Whether this holder marked the row (and so may clear its own mark once answered).
    let marked = false;
    let lastFailure: Parameters<RefreshCommits['transientFailure']>[1] | null = null;
    try {
      const entry = commits.entryOf(leased);
      assertUsable(leased, integration.record);
      // Someone (another process) may have refreshed between our read and the lease. For a refresh
      // a refused token asked for, that is the race this check closes: two instances see T refused
      // at once, both read T, and the second takes the lease only after the first has replaced T
      // and let go. Without it the second would refresh again; with it, it answers with the
      // first's token. The row is the one the lease statement returned, and while we hold the
      // lease no other holder can replace the token: what this check sees holds until our commit.
      if (storedTokenAnswers(entry, request, request.needMs(leased, integration.record), clock.now())) return { entry, refreshed: false };
      this.assertRefreshAllowed(leased, integration.record, request);

      const useClientCredentials = leased.kind === 'system' && integration.record.systemGrant === 'client_credentials';
      const refreshToken = held.tokens?.refresh_token ?? null;
      if (!useClientCredentials && !refreshToken) {
        if (leased.expiresAt !== null && leased.expiresAt <= clock.now()) {
          await commits.permanentFailure(held, {
            reason: 'the access token expired and the provider issued no refresh token',
            errorCode: 'no_refresh_token',
            lostRefreshTokenSince: null,
          });
          leaseEnded = true;
        }
        throw new TokenkeeperError('no_refresh_token');
      }
      const grant: TokenGrant = useClientCredentials
        ? { kind: 'client_credentials', scopes: integration.record.systemScopes ?? undefined }
        : { kind: 'refresh_token', refreshToken: refreshToken! };
      // The call must end well inside the lease: margin for the commit after it.
      const callTimeoutMs = Math.max(1_000, Math.min(refreshTimeoutMs, leaseMs - Math.max(1_000, Math.floor(leaseMs / 5))));

      for (let attempt = 0; ; attempt++) {
        if (!permit) {
          const leaseLeft = (held.leased.leaseUntil ?? 0) - clock.now();
          try {
            // The first wait is the caller's (a sweep waits longer than a request), a retry's is short;
            // either ends while the call and its commit still fit in the lease.
            permit = await guard.acquire(integration, Math.max(0, Math.min(attempt === 0 ? request.rateWaitMs : 2_000, leaseLeft - callTimeoutMs)));
          } catch (error) {
            // The breaker opened (or the limiter ran dry) during our own retries: the failure we
            // saw still counts against the connection.
            if (lastFailure) {
              await commits.transientFailure(held, lastFailure);
              leaseEnded = true;
            }
            throw error;
          }
        }
        if (this.options.isClosing()) throw new TokenkeeperError('shutting_down');
        const sendingAt = clock.now();
        const extended = await extendLease(db, leased.id, held.holder, sendingAt, leaseMs, { unansweredSince: sendingAt });
        if (!extended) {
          leaseEnded = true;
          throw new TokenkeeperError('refresh_in_progress', 'The refresh lease was taken over by another process.', { retryAfterMs: 1_000 });
        }
        held.leased = { ...held.leased, leaseUntil: extended.leaseUntil, unansweredRefreshAt: extended.unansweredRefreshAt };
        marked = true;

        const result = await callTokenEndpoint(integration, grant, { clock, timeoutMs: callTimeoutMs });
        if (result.ok) {
          permit.release('success');
          permit = null;
          const stored = await commits.success(held, result.tokens, result.sentAt);
          leaseEnded = true;
          return { entry: stored.entry, refreshed: stored.outcome !== 'fenced_out' };
        }

        const { classification } = result;
        if (!result.answered) unansweredSince = result.sentAt;
        if (classification.kind === 'integration') {
          permit.release('neutral');
          permit = null;
          await this.options.integrations.markFailing(integration.record.id, {
            code: classification.providerError ?? classification.code,
            message: classification.reason,
            // An answer to a request made with credentials the operator has since changed says nothing.
            recordUpdatedAt: integration.record.updatedAt,
          });
          await commits.release(held, { clearMark: unansweredSince === null });
          leaseEnded = true;
          throw new TokenkeeperError('integration_failing', `The provider rejected the integration's credentials: ${classification.reason}`, {
            details: { integration: integration.record.key, provider_error: classification.providerError },
          });
        }
        if (classification.kind === 'permanent') {
          permit.release('neutral');
          permit = null;
          const lost = !useClientCredentials && classification.providerError === 'invalid_grant' && unansweredSince !== null;
          await commits.permanentFailure(held, {
            reason: classification.reason,
            errorCode: classification.providerError ?? classification.code,
            lostRefreshTokenSince: lost ? unansweredSince : null,
          });
          leaseEnded = true;
          if (lost) throw new TokenkeeperError('refresh_token_lost', undefined, { details: { provider_error: classification.providerError } });
          throw new TokenkeeperError('connection_needs_reauth', `The provider rejected the refresh: ${classification.reason} The user must reconnect.`, {
            details: { reason: classification.reason, provider_error: classification.providerError },
          });
        }

        permit.release('failure');
        permit = null;
        const failure = { classification, clearMark: unansweredSince === null, salvagedRefreshToken: result.salvagedRefreshToken };
        lastFailure = failure;
        const delay = classification.retryAfterMs ?? fullJitterDelay(attempt, this.options.retryBackoff, this.options.random);
        const leaseLeft = (held.leased.leaseUntil ?? 0) - clock.now();
        const retry =
          result.salvagedRefreshToken === null &&
          result.answered &&
          attempt + 1 < request.maxAttempts &&
          delay <= this.options.retryBackoff.maxMs &&
          delay + callTimeoutMs < leaseLeft;
        if (retry) {
          this.options.logger.debug('token endpoint failed transiently, retrying', { connectionId: leased.id, attempt, delayMs: delay, error: classification.reason });
          await sleep(delay);
          continue;
        }
        await commits.transientFailure(held, failure);
        leaseEnded = true;
        throw new TokenkeeperError(classification.code, `Refresh failed: ${classification.reason}`, {
          retryAfterMs: classification.retryAfterMs ?? undefined,
          details: { reason: classification.reason, provider_error: classification.providerError },
        });
      }
    } finally {
      permit?.release('not_sent');
      if (!leaseEnded) await commits.release(held, { clearMark: marked && unansweredSince === null });
    }
  }
}
