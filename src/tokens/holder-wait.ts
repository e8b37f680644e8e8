import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { IntegrationService } from '../integrations/index.ts';
import { findConnection, type ChangeFeed, type ChangeWatch, type ConnectionRecord, type Database } from '../store/index.ts';
import { sleep } from './backoff.ts';
import type { RefreshOutcome, RefreshRequest } from './refresh-request.ts';
import { storedTokenAnswers } from './refused-token.ts';
import type { CacheEntry } from './token-cache.ts';
import { assertUsable, isValidFor } from './validity-rules.ts';

export interface HolderWaitDeps {
  db: Database;
  clock: Clock;
  integrations: IntegrationService;
  waitForHolderMs: number;
  /** Announces the holder's commit (or lease release) the moment it lands. */
  changes: Pick<ChangeFeed, 'status' | 'watch'>;
  /** While `changes` is live: how often the row is re-read anyway (a holder that died announces nothing). */
  holderPollMs: number;
  entryOf(record: ConnectionRecord): CacheEntry;
  isClosing(): boolean;
  /** Takes the lease ourselves after a holder gave up or failed (one attempt). */
  retry(request: RefreshRequest): Promise<RefreshOutcome>;
}

/**
 * Another process holds the lease. Wait until the holder is done — its commit moved the version,
 * or its lease is gone or changed hands — bounded by `waitForHolderMs` on the injected clock.
 *
 * On PostgreSQL with the invalidation channel live, the holder's commit wakes the waiter: one
 * read when it lands, plus a re-read every `holderPollMs` for a holder that died (its lease lapses
 * without a word). The watch starts before the first read, so a commit that lands in between is
 * not missed. Without the channel (SQLite, or the channel down) the row is polled every 20 ms
 * growing to 200 ms: correctness never depends on a notification arriving.
 *
 * A holder being done does not mean it succeeded. Every waiter re-checks what is stored now
 * (invariant 4): a holder that moved the connection to needs_reauth makes the waiter throw that;
 * one that failed transiently leaves a token that is only served if it is still valid for what
 * this caller needs — never as the result of a forced refresh, unless a refused token asked for
 * it and the stored token is another one (refused-token.ts) — and otherwise the waiter tries once
 * itself, under the usual cooldown; a holder that did refresh hands its token to every waiter.
 */
export async function waitForHolder(deps: HolderWaitDeps, id: string, seen: ConnectionRecord, request: RefreshRequest, retried: boolean): Promise<RefreshOutcome> {
  const { clock } = deps;
  const startedAt = clock.now();
  const watch = deps.changes.watch('connection', id);
  try {
    return await waitWatching(deps, id, seen, request, retried, startedAt, watch);
  } finally {
    watch.stop();
  }
}

async function waitWatching(
  deps: HolderWaitDeps,
  id: string,
  seen: ConnectionRecord,
  request: RefreshRequest,
  retried: boolean,
  startedAt: number,
  watch: ChangeWatch,
): Promise<RefreshOutcome> {
  const { db, clock } = deps;
  let interval = 20;
  for (let round = 0; ; round++) {
    if (deps.isClosing()) throw new TokenkeeperError('shutting_down');
    if (deps.changes.status() === 'live') {
      // The first round reads at once: the holder may have committed before the watch began.
      if (round > 0) await watch.next(Math.min(deps.holderPollMs, Math.max(1, deps.waitForHolderMs - (clock.now() - startedAt))));
    } else {
      await sleep(interval);
      interval = Math.min(200, interval * 2);
    }
    if (deps.isClosing()) throw new TokenkeeperError('shutting_down');
    const row = await findConnection(db, id);
    if (!row) throw new TokenkeeperError('connection_not_found', `No connection "${id}".`);
    const now = clock.now();
    const holderDone =
      row.version !== seen.version || row.leaseOwner !== seen.leaseOwner || row.leaseUntil === null || row.leaseUntil < now;
    if (holderDone) {
      const entry = deps.entryOf(row);
      const view = await deps.integrations.recordById(row.integrationId);
      assertUsable(row, view.record);
      const needMs = request.needMs(row, view.record);
      const refreshedByHolder = row.tokensSealed !== seen.tokensSealed && row.failureCount === 0;
      if (refreshedByHolder && isValidFor(entry, needMs, now)) return { entry, refreshed: true };
      if (storedTokenAnswers(entry, request, needMs, now)) return { entry, refreshed: false };
      if (retried) throw new TokenkeeperError('refresh_in_progress', undefined, { retryAfterMs: 1_000 });
      return deps.retry({ ...request, maxAttempts: 1 });
    }
    if (now - startedAt > deps.waitForHolderMs) {
      const entry = deps.entryOf(row);
      const view = await deps.integrations.recordById(row.integrationId);
      if (storedTokenAnswers(entry, request, request.needMs(row, view.record), now)) return { entry, refreshed: false };
      throw new TokenkeeperError('refresh_in_progress', undefined, { retryAfterMs: 1_000 });
    }
  }
}
