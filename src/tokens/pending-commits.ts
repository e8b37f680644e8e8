import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import { extendLease, isStorageUnavailable, type ConnectionRecord, type Database } from '../store/index.ts';
import { sleep, waitAtMost } from './backoff.ts';
import type { CacheEntry } from './token-cache.ts';

export interface PendingCommitsOptions {
  db: Database;
  clock: Clock;
  logger: Logger;
  leaseMs: number;
  /** How long one commit keeps being retried before it is given up (and logged as an error). */
  retryForMs: number;
  onCommitted(record: ConnectionRecord): void;
  onAbandoned(id: string): void;
}

export interface PendingCommit {
  id: string;
  holder: string;
  /** What callers are served meanwhile. */
  entry: CacheEntry;
  /**
   * Sends the commit once more: the fenced write with its events and announcement, fenced by the
   * row version the token set was made from and the lease owner, which makes every retry safe.
   * The row written, or null when the fence failed.
   */
  send(): Promise<ConnectionRecord | null>;
  /** Tells this process's listeners, once it has landed. */
  announce(): void;
}

/**
 * Refreshed token sets whose commit failed on storage trouble (another process holds the SQLite
 * write lock; PostgreSQL is restarting). The provider has answered and may have rotated the
 * refresh token, so the set must land: the fenced write is retried in the background — the fence
 * (version and lease owner) means a retry can only ever land on the row the set was made from —
 * while the lease is kept extended and the set is served from memory. No refresh of that
 * connection starts in this process until the commit has landed or been given up.
 */
export class PendingCommits {
  private readonly options: PendingCommitsOptions;
  private readonly pending = new Map<string, { entry: CacheEntry; done: Promise<void> }>();
  private stopped = false;

  constructor(options: PendingCommitsOptions) {
    this.options = options;
  }

  /** The uncommitted token set of this connection, if its commit is still being retried. */
  entry(id: string): CacheEntry | undefined {
    return this.pending.get(id)?.entry;
  }

  /** Resolves when the connection has no commit being retried. */
  async settled(id: string): Promise<void> {
    await this.pending.get(id)?.done;
  }

  retry(commit: PendingCommit): void {
    const done = this.run(commit).finally(() => this.pending.delete(commit.id));
    this.pending.set(commit.id, { entry: commit.entry, done });
  }

  /**
   * At shutdown: waits up to `timeoutMs` for the commits still being retried, then stops them.
   * Returns how many never landed (each is logged as an error).
   */
  async drain(timeoutMs: number): Promise<number> {
    const all = [...this.pending.values()].map((pending) => pending.done);
    if (all.length > 0) await waitAtMost(Promise.allSettled(all), timeoutMs);
    this.stopped = true;
    for (const [id] of this.pending) {
      this.options.logger.error('shutting down with a refreshed token set that could not be stored; the connection will likely need the user again', { connectionId: id });
    }
    return this.pending.size;
  }

  private async run(commit: PendingCommit): Promise<void> {
    const { db, clock, logger, leaseMs } = this.options;
    const startedAt = clock.now();
    for (let attempt = 0; !this.stopped; attempt++) {
      await sleep(Math.min(2_000, 50 * 2 ** attempt));
      try {
        // Keep the lease while retrying, so no other process sends the consumed refresh token.
        await extendLease(db, commit.id, commit.holder, clock.now(), leaseMs).catch(() => null);
        const updated = await commit.send();
        if (!updated) {
          logger.warn('a refreshed token set was not stored: the connection changed meanwhile (reconnected or deleted)', { connectionId: commit.id });
          this.options.onAbandoned(commit.id);
          return;
        }
        logger.info('stored a refreshed token set after retrying', { connectionId: commit.id, attempts: attempt + 1 });
        this.options.onCommitted(updated);
        commit.announce();
        return;
      } catch (error) {
        if (!isStorageUnavailable(error) || clock.now() - startedAt > this.options.retryForMs) {
          logger.error('giving up storing a refreshed token set; the connection will likely need the user again', { connectionId: commit.id, error });
          this.options.onAbandoned(commit.id);
          return;
        }
      }
    }
  }
}
