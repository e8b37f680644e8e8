import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { Database } from '../store/index.ts';
import type { ConnectionService, TokenService } from '../tokens/index.ts';
import { runCleanup } from './cleanup.ts';
import type { JobQueue, QueueDefinition } from './job-queue.ts';
import { JobReleased } from './pg-boss-queue.ts';
import type { JobReport } from './refresh-sweep.ts';

/** One connection to refresh if it is due (or, for `idle`, whatever its validity). */
export const REFRESH_QUEUE = 'refresh';
/** One integration whose system connection (client credentials) must exist. */
export const SYSTEM_TOKEN_QUEUE = 'system-token';
/** Deleting expired connect sessions. */
export const CLEANUP_QUEUE = 'cleanup';

export interface RefreshJobData {
  connectionId: string;
  trigger: 'sweep' | 'idle';
}

export interface SystemTokenJobData {
  integration: string;
}

export interface TokenkeeperQueueDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  connections: ConnectionService;
  /** `TOKENKEEPER_LEASE_MS`: bounds how long one refresh job may run. */
  leaseMs: number;
}

/**
 * Tokenkeeper's own durable queues. A refresh job calls `TokenService.refreshIfDue`, the same
 * path a request and the in-process sweep use, so the connection's lease still makes one refresh
 * however many jobs, sweeps and requests race for it; a job that runs twice finds the connection
 * fresh and does nothing.
 *
 * Two layers of backoff, each for its own failure: a provider's transient failure writes the
 * connection's cooldown (exponential with full jitter, `Retry-After` honoured), and the sweep does
 * not enqueue it again before that; the job's own retries (pg-boss, exponential) are for attempts
 * that could not run to an outcome: storage trouble, a dead instance, a shutdown. A retry that
 * lands inside the cooldown ends as `skipped`.
 */
export function tokenkeeperQueues(deps: TokenkeeperQueueDeps): QueueDefinition<any>[] {
  // Jitter and the rate limiter's wait (at most 30 s) come before the lease; another process's
  // lease may be waited out (at most 15 s) before this one takes its own.
  const refreshExpireSeconds = Math.ceil((2 * deps.leaseMs + 47_000) / 1000);
  const refresh: QueueDefinition<RefreshJobData> = {
    name: REFRESH_QUEUE,
    // Per instance; each provider call still waits for its integration's shared limits.
    concurrency: 16,
    expireSeconds: refreshExpireSeconds,
    retryLimit: 3,
    handle: async ({ connectionId, trigger }) => {
      const outcome = await deps.tokens.refreshIfDue(connectionId, trigger);
      if (outcome === 'skipped' && deps.tokens.isDraining()) throw new JobReleased();
      if (outcome === 'failed') throw new Error(`the refresh of connection ${connectionId} failed`);
      deps.logger.debug('refresh job done', { connectionId, trigger, outcome });
      return { outcome };
    },
  };
  const systemToken: QueueDefinition<SystemTokenJobData> = {
    name: SYSTEM_TOKEN_QUEUE,
    concurrency: 1,
    expireSeconds: refreshExpireSeconds,
    retryLimit: 3,
    handle: async ({ integration }) => {
      try {
        const connection = await deps.connections.ensureSystemConnection(integration);
        return { connectionId: connection?.id ?? null };
      } catch (error) {
        // `shutting_down` from the refresh path: another instance mints it.
        if (deps.tokens.isDraining()) throw new JobReleased();
        throw error;
      }
    },
  };
  const cleanup: QueueDefinition<Record<string, never>> = {
    name: CLEANUP_QUEUE,
    concurrency: 1,
    expireSeconds: 600,
    retryLimit: 3,
    handle: async () => {
      const report = await runCleanup({ db: deps.db, clock: deps.clock });
      deps.logger.info('job finished', { ...report });
      return report;
    },
  };
  return [refresh, systemToken, cleanup];
}

/** The cleanup tick on the cluster job layer: one durable job (never two queued), run by whichever instance fetches it. */
export async function enqueueCleanup(queue: JobQueue): Promise<JobReport> {
  const startedAt = performance.now();
  const enqueued = await queue.enqueue<Record<string, never>>(CLEANUP_QUEUE, [{ key: CLEANUP_QUEUE, data: {} }]);
  return { job: 'cleanup', checked: 0, enqueued, refreshed: 0, failed: 0, needs_reauth: 0, duration_ms: Math.round(performance.now() - startedAt) };
}
