import type { Clock } from '../clock.ts';
import type { ConnectionService, TokenService } from '../tokens/index.ts';
import type { IntegrationService } from '../integrations/index.ts';
import type { Logger } from '../logger.ts';
import { getProvider } from '../providers/index.ts';
import { listDueForRefresh, listIdleSince, type Database } from '../store/index.ts';
import { sleep } from '../tokens/index.ts';
import type { JobQueue } from './job-queue.ts';
import { REFRESH_QUEUE, SYSTEM_TOKEN_QUEUE, type RefreshJobData, type SystemTokenJobData } from './tokenkeeper-queues.ts';

export interface JobReport {
  job: string;
  checked: number;
  refreshed: number;
  failed: number;
  needs_reauth: number;
  duration_ms: number;
  /** On the cluster job layer: jobs this tick added to the queues (work already queued is not counted). */
  enqueued?: number;
  /** On the cluster job layer: due connections whose job from an earlier tick was still queued or running (not offered again). */
  in_flight?: number;
}

export interface RefreshSweepDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  connections: ConnectionService;
  integrations: IntegrationService;
  /** Largest random delay before each refresh, so a batch expiring together is spread out. */
  jitterMs: number;
  /** How many refreshes run at once overall (each provider also has its own limiter). */
  concurrency: number;
  batchSize?: number;
}

const DAY_MS = 86_400_000;

/** What one sweep tick has to do: the connections to refresh, and the system connections to keep. */
export interface SweepWork {
  refresh: { id: string; trigger: 'sweep' | 'idle' }[];
  /** Integrations whose system connection (client credentials) must exist. */
  systemIntegrations: { id: string; key: string }[];
}

/**
 * Finds a sweep's work: every active or degraded connection whose remaining lifetime is under
 * max(buffer, 25 % of its lifetime), refresh tokens that die when unused (at half their
 * provider's idle limit), and the integrations that keep a system connection minted.
 */
export async function findSweepWork(deps: Pick<RefreshSweepDeps, 'db' | 'clock' | 'integrations' | 'batchSize'>): Promise<SweepWork> {
  const now = deps.clock.now();
  const batch = deps.batchSize ?? 1000;
  const due = await listDueForRefresh(deps.db, now, batch);
  const integrations = await deps.integrations.list();
  const idleIntegrations = integrations.flatMap((integration) => {
    const maxIdleDays = maxIdleDaysOf(integration.provider, integration.settings);
    return integration.enabled && integration.failingSince === null && maxIdleDays !== null ? [{ integrationId: integration.id, idleSince: now - (maxIdleDays * DAY_MS) / 2 }] : [];
  });
  const dueIds = new Set(due.map((row) => row.id));
  const idle = (await listIdleSince(deps.db, idleIntegrations, now, batch)).filter((row) => !dueIds.has(row.id));
  return {
    refresh: [...due.map((row) => ({ id: row.id, trigger: 'sweep' as const })), ...idle.map((row) => ({ id: row.id, trigger: 'idle' as const }))],
    systemIntegrations: integrations
      .filter((integration) => integration.failingSince === null && integration.systemGrant === 'client_credentials' && integration.enabled)
      .map((integration) => ({ id: integration.id, key: integration.key })),
  };
}

/**
 * The proactive sweep, run here and now (the embedded shape's scheduler, `POST /v1/cron/refresh`,
 * `tokenkeeper refresh --all-due`). Everything goes through `TokenService.refreshIfDue`, the same
 * single-flight path requests use, so a sweep and a request racing for one connection still make
 * one refresh.
 */
export async function runRefreshSweep(deps: RefreshSweepDeps): Promise<JobReport> {
  const startedAt = performance.now();
  const report: JobReport = { job: 'refresh', checked: 0, refreshed: 0, failed: 0, needs_reauth: 0, duration_ms: 0 };
  const { refresh: work, systemIntegrations } = await findSweepWork(deps);
  report.checked = work.length;

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < work.length && !deps.tokens.isDraining()) {
      const item = work[next++]!;
      if (deps.jitterMs > 0) await sleep(Math.floor(Math.random() * deps.jitterMs));
      const outcome = await deps.tokens.refreshIfDue(item.id, item.trigger);
      if (outcome === 'refreshed') report.refreshed++;
      else if (outcome === 'failed') report.failed++;
      else if (outcome === 'needs_reauth') report.needs_reauth++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, work.length)) }, worker));

  // System connections minted by client credentials: make sure one exists.
  for (const integration of systemIntegrations) {
    if (deps.tokens.isDraining()) break;
    try {
      await deps.connections.ensureSystemConnection(integration.key);
    } catch (error) {
      report.failed++;
      deps.logger.warn('could not mint the system connection', { integration: integration.key, error });
    }
  }
  report.duration_ms = Math.round(performance.now() - startedAt);
  return report;
}

/**
 * The sweep on the cluster job layer: the instance that claimed the tick only finds the work and
 * enqueues it, one durable job per connection (keyed by its id: never queued twice) and one per
 * system connection to keep; every instance's workers then do it. The jitter becomes each job's
 * start delay, so a batch that came due together is still spread out.
 *
 * A connection stays due until its refresh commits, so while a backlog is worked (10,000 due at
 * once, at the provider's pace) every tick lists the connections of the earlier ticks again. They
 * are not offered again: the queue is asked which of them already have a job, and only the others
 * are inserted. Offering them was harmless (the insert skips a key that has a job) but not free:
 * one tick re-offering 10,000 keys cost a tenth to a third of a second of CPU in PostgreSQL and
 * this process, taken from the refreshes sharing those cores. Every due connection without a job
 * still gets one at each tick, as before: none waits behind the backlog for a later tick.
 */
export async function enqueueRefreshSweep(deps: Pick<RefreshSweepDeps, 'db' | 'clock' | 'integrations' | 'jitterMs' | 'batchSize'> & { queue: JobQueue }): Promise<JobReport> {
  const startedAt = performance.now();
  // Jobs are durable and keyed, so one tick may queue far more than an in-process run would take on.
  const { refresh, systemIntegrations } = await findSweepWork({ ...deps, batchSize: deps.batchSize ?? 20_000 });
  const inFlight = await deps.queue.inFlight(REFRESH_QUEUE, refresh.map((item) => item.id));
  const refreshJobs = await deps.queue.enqueue<RefreshJobData>(
    REFRESH_QUEUE,
    refresh.filter((item) => !inFlight.has(item.id)).map((item) => ({
      key: item.id,
      data: { connectionId: item.id, trigger: item.trigger },
      startAfterMs: deps.jitterMs > 0 ? Math.floor(Math.random() * deps.jitterMs) : 0,
    })),
  );
  const systemJobs = await deps.queue.enqueue<SystemTokenJobData>(
    SYSTEM_TOKEN_QUEUE,
    systemIntegrations.map((integration) => ({ key: integration.id, data: { integration: integration.key } })),
  );
  return {
    job: 'refresh',
    checked: refresh.length,
    enqueued: refreshJobs + systemJobs,
    in_flight: inFlight.size,
    refreshed: 0,
    failed: 0,
    needs_reauth: 0,
    duration_ms: Math.round(performance.now() - startedAt),
  };
}

/** The integration's setting, else the provider catalog's idle limit for refresh tokens. */
function maxIdleDaysOf(providerKey: string, settings: Record<string, unknown>): number | null {
  const override = settings.refreshTokenMaxIdleDays;
  if (typeof override === 'number') return override;
  if (override === null) return null;
  return getProvider(providerKey)?.refresh.maxIdleDays ?? null;
}
