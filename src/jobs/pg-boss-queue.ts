import { sql } from 'kysely';
import type { Job, PgBoss, QueueOptions } from 'pg-boss';
import type { Logger } from '../logger.ts';
import type { Database } from '../store/index.ts';
import type { JobQueue, QueueDefinition, QueuedJob } from './job-queue.ts';

/** Timings of the cluster job layer; the defaults suit production, tests shorten them. */
export interface ClusterJobTuning {
  /** Seconds between a worker's polls for jobs when it finds none (pg-boss's minimum is 0.5). */
  pollingIntervalSeconds: number;
  /**
   * A worker records a heartbeat on each job it runs every half of this; a job whose heartbeat is
   * this old belonged to an instance that died, and is retried by another. pg-boss's minimum is 10.
   */
  heartbeatSeconds: number;
  /** How often an instance looks for lost jobs (silent or past their expiry) and prunes old ones. */
  superviseIntervalSeconds: number;
  /** Delay before the first retry of a failed attempt; it doubles (with jitter) at each retry. */
  retryDelaySeconds: number;
  retryDelayMaxSeconds: number;
  /** Connections of the job layer's own pool (beside `TOKENKEEPER_DB_POOL_SIZE`). */
  poolSize: number;
}

export const DEFAULT_CLUSTER_JOB_TUNING: Readonly<ClusterJobTuning> = Object.freeze({
  pollingIntervalSeconds: 2,
  heartbeatSeconds: 10,
  superviseIntervalSeconds: 15,
  retryDelaySeconds: 2,
  retryDelayMaxSeconds: 300,
  poolSize: 4,
});

export interface PgBossQueueOptions {
  /** Tokenkeeper's database: the job layer's schema is named after its current schema. */
  db: Database;
  /** `DATABASE_URL`: the job layer's pool connects the same way as the main one. */
  url: string;
  connectTimeoutMs: number;
  logger: Logger;
  /** True once the instance is shutting down: jobs taken then go back to the queue. */
  isDraining(): boolean;
  tuning?: Partial<ClusterJobTuning>;
}

/**
 * Thrown by a handler that did not do its job because this instance is shutting down: the attempt
 * fails at once, so the job goes back to the queue and another instance takes it.
 */
export class JobReleased extends Error {
  constructor() {
    super('released at shutdown: another instance takes the job');
    this.name = 'JobReleased';
  }
}

/** A job as stored, for diagnostics and tests. */
export interface StoredJob {
  key: string | null;
  state: 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';
  retryCount: number;
  output: unknown;
}

/**
 * The schema pg-boss keeps its tables in: beside Tokenkeeper's own, named after it, so that two
 * deployments (or two test files) sharing a database in different schemas never share a queue.
 */
export function jobsSchemaFor(schema: string): string {
  const name = `${schema}_jobs`;
  // pg-boss takes unquoted names of at most 50 bytes.
  if (!/^[a-z_][a-z0-9_]{0,49}$/.test(name)) {
    throw new Error(`the job layer's schema would be "${name}", which pg-boss cannot use: keep Tokenkeeper in a schema named with lower-case letters, digits and _ (at most 45 characters)`);
  }
  return name;
}

/**
 * The cluster job layer on PostgreSQL: pg-boss in the same database, in a schema of its own.
 * Every queue uses pg-boss's `exclusive` policy with the job's key as `singletonKey`, so a key
 * (a connection) is never queued twice: while one job for it is queued, waiting for a retry or
 * running, enqueueing another does nothing. Every instance whose scheduler is on works every
 * queue; a worker heartbeats its jobs, and the jobs of an instance that dies are failed by
 * another instance's supervisor once their heartbeat is `heartbeatSeconds` old, then retried
 * (with exponential backoff) by whichever instance fetches them.
 *
 * pg-boss is loaded only when PostgreSQL is configured and something uses the queue.
 */
export class PgBossQueue implements JobQueue {
  private readonly options: PgBossQueueOptions;
  private readonly tuning: ClusterJobTuning;
  private readonly definitions = new Map<string, QueueDefinition<any>>();
  /** The queues this instance works, with its workers' ids (to wake them when jobs come due). */
  private readonly working = new Map<string, string[]>();
  private readonly wakeTimers = new Set<NodeJS.Timeout>();
  private opening: Promise<PgBoss> | null = null;
  private starting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private schema: string | null = null;

  constructor(options: PgBossQueueOptions) {
    this.options = options;
    this.tuning = { ...DEFAULT_CLUSTER_JOB_TUNING, ...options.tuning };
  }

  /** Adds a queue; must come before the layer is opened. */
  register<Data extends object>(definition: QueueDefinition<Data>): void {
    if (this.opening) throw new Error(`queue "${definition.name}" registered after the job layer was opened`);
    this.definitions.set(definition.name, definition);
  }

  /** The pg-boss schema, once opened (for reports and tests). */
  schemaName(): string | null {
    return this.schema;
  }

  async enqueue<Data extends object>(queue: string, jobs: QueuedJob<Data>[]): Promise<number> {
    if (!this.definitions.has(queue)) throw new Error(`no queue "${queue}"`);
    if (jobs.length === 0) return 0;
    const boss = await this.open();
    const byKey = new Map(jobs.map((job) => [job.key, job]));
    const unique = [...byKey.values()];
    let added = 0;
    let lastStartMs = 0;
    for (let start = 0; start < unique.length; start += 500) {
      const rows = unique.slice(start, start + 500).map((job) => {
        lastStartMs = Math.max(lastStartMs, job.startAfterMs ?? 0);
        return {
        data: job.data,
        singletonKey: job.key,
        ...(job.startAfterMs && job.startAfterMs > 0 ? { startAfter: Math.round(job.startAfterMs) / 1000 } : {}),
        };
      });
      // ON CONFLICT DO NOTHING under the exclusive policy: only the new jobs come back.
      const ids = await boss.insert(queue, rows, { returnId: true });
      added += ids?.length ?? 0;
    }
    if (added > 0) this.wake(boss, queue, lastStartMs);
    return added;
  }

  /**
   * One read of pg-boss's job table, by the same columns and condition as the unique index that
   * makes a key `exclusive` (`name`, `coalesce(singleton_key, '')`, `state <= 'active'`), so it
   * finds exactly the jobs an insert would conflict with. pg-boss has no call for this: its
   * `findJobs` takes one key at a time, and its queue counts are cached for a minute. The answer
   * can only be stale in the safe direction for a tick: a job that ends just after the read is
   * not offered until the next tick, which lists its connection again if it is still due.
   */
  async inFlight(queue: string, keys: readonly string[]): Promise<Set<string>> {
    if (!this.definitions.has(queue)) throw new Error(`no queue "${queue}"`);
    if (keys.length === 0) return new Set();
    const boss = await this.open();
    const result = await boss.getDb().executeSql(
      `SELECT singleton_key AS key FROM ${this.schema}.job WHERE name = $1 AND COALESCE(singleton_key, '') = ANY($2::text[]) AND state <= 'active' AND policy = 'exclusive'`,
      [queue, [...new Set(keys)]],
    );
    return new Set((result.rows as { key: string }[]).map((row) => row.key));
  }

  /** The jobs of a queue as stored (oldest first, at most 1000), for diagnostics and tests. */
  async jobs(queue: string): Promise<StoredJob[]> {
    const boss = await this.open();
    const found = await boss.findJobs(queue, { limit: 1000 });
    return found.map((job) => ({ key: job.singletonKey, state: job.state, retryCount: job.retryCount, output: job.output }));
  }

  /**
   * Works every registered queue on this instance (bounded by each queue's concurrency). Opens the
   * layer first; if that fails (the database is down), tries again every 5 s until it works or
   * the layer is stopped. Resolves once the workers run, or when the layer stops.
   */
  startWorkers(): Promise<void> {
    this.starting ??= new Promise<void>((resolve) => {
      const attempt = (): void => {
        void this.registerWorkers().then(resolve, (error: unknown) => {
          if (this.stopped) return resolve();
          this.options.logger.error('the job queue could not start; trying again in 5 s', { error });
          this.retryTimer = setTimeout(attempt, 5_000);
          this.retryTimer.unref();
        });
      };
      attempt();
    });
    return this.starting;
  }

  /**
   * Shutdown: stops taking jobs, lets the jobs running here finish for up to `timeoutMs` (their
   * refreshes commit and release their leases meanwhile), fails those still running so that
   * another instance retries them, and closes the layer's pool.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    for (const timer of this.wakeTimers) clearTimeout(timer);
    this.wakeTimers.clear();
    const opening = this.opening;
    if (!opening) return;
    const boss = await opening.catch(() => null);
    if (!boss) return;
    await boss.stop({ graceful: true, timeout: timeoutMs, close: true });
  }

  /** Starts pg-boss (installing or migrating its schema) and creates the queues; once, retried after a failure. */
  private open(): Promise<PgBoss> {
    if (this.stopped) return Promise.reject(new Error('the job queue is closed'));
    this.opening ??= this.openOnce().catch((error: unknown) => {
      this.opening = null;
      throw error;
    });
    return this.opening;
  }

  private async openOnce(): Promise<PgBoss> {
    const { PgBoss } = await import('pg-boss');
    const result = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(this.options.db);
    const current = result.rows[0]?.schema;
    if (!current) throw new Error('the database connection has no current schema (check the search_path of DATABASE_URL)');
    const schema = jobsSchemaFor(current);
    const boss = new PgBoss({
      connectionString: this.options.url,
      schema,
      max: this.tuning.poolSize,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      application_name: `tokenkeeper-jobs:${schema}`.slice(0, 63),
      // Ticks are claimed in job_state, not by pg-boss's cron (one-minute resolution): see
      // docs/architecture.md, "Jobs in a cluster".
      schedule: false,
      supervise: true,
      superviseIntervalSeconds: this.tuning.superviseIntervalSeconds,
      monitorIntervalSeconds: this.tuning.superviseIntervalSeconds,
      maintenanceIntervalSeconds: 300,
      registerInstance: false,
    });
    // pg-boss reports trouble (a lost connection, a failed maintenance pass) as events; an
    // 'error' nobody listens to would crash the process.
    boss.on('error', (error) => this.options.logger.error('job queue error', { error }));
    boss.on('warning', (warning) => this.options.logger.warn('job queue warning', { message: warning.message }));
    try {
      await boss.start();
      // One read of the queues as stored; only a missing queue is created, and only one whose
      // settings differ (created by an older version) is updated: its policy cannot change.
      const stored = new Map((await boss.getQueues([...this.definitions.keys()])).map((queue) => [queue.name, queue]));
      for (const definition of this.definitions.values()) {
        const options = this.queueOptions(definition);
        const queue = stored.get(definition.name);
        if (!queue) await boss.createQueue(definition.name, { policy: 'exclusive', ...options });
        else if (!sameSettings(queue, options)) await boss.updateQueue(definition.name, options);
      }
    } catch (error) {
      await boss.stop({ graceful: false, close: true }).catch(() => undefined);
      throw error;
    }
    this.schema = schema;
    return boss;
  }

  private queueOptions(definition: QueueDefinition<any>): QueueOptions {
    return {
      expireInSeconds: definition.expireSeconds,
      heartbeatSeconds: this.tuning.heartbeatSeconds,
      retryLimit: definition.retryLimit,
      retryDelay: this.tuning.retryDelaySeconds,
      retryBackoff: true,
      retryDelayMax: this.tuning.retryDelayMaxSeconds,
      // Finished jobs are kept an hour for diagnosis; a job nobody took within an hour is stale
      // (the next tick enqueues what is still due).
      deleteAfterSeconds: 3_600,
      retentionSeconds: 3_600,
    };
  }

  private async registerWorkers(): Promise<void> {
    const boss = await this.open();
    for (const definition of this.definitions.values()) {
      if (this.stopped) return;
      if (this.working.has(definition.name)) continue;
      // Two workers per queue, each fetching half the queue's concurrency at a time and fetching
      // again at once while batches come back full: a backlog (10,000 connections due together)
      // is worked as fast as the provider's limit allows, not one job per polling interval.
      // Registered one by one, so that each can be woken by its id (see `wake`).
      const workers = Math.min(2, definition.concurrency);
      const ids: string[] = [];
      for (let n = 0; n < workers; n++) {
        ids.push(
          await boss.work<object>(
            definition.name,
            {
              localConcurrency: 1,
              batchSize: Math.max(1, Math.ceil(definition.concurrency / workers)),
              burstWhenBatchFull: true,
              perJobResults: true,
              pollingIntervalSeconds: this.tuning.pollingIntervalSeconds,
            },
            (jobs) =>
              Promise.all(
                jobs.map((job) =>
                  this.handle(boss, definition, job).then(
                    (output) => ({ id: job.id, status: 'completed' as const, output: output ?? undefined }),
                    (error: unknown) => ({ id: job.id, status: 'failed' as const, output: { message: error instanceof Error ? error.message : String(error) } }),
                  ),
                ),
              ),
          ),
        );
      }
      this.working.set(definition.name, ids);
    }
  }

  /**
   * Jobs this instance just queued: its workers of the queue fetch now, and again when the last
   * job's start delay has passed, instead of at their next poll (up to `pollingIntervalSeconds`
   * later, and a fetch that found only part of a batch due ends a burst). Other instances' workers
   * find the jobs at their next poll.
   */
  private wake(boss: PgBoss, queue: string, lastStartMs: number): void {
    const wakeAll = (): void => {
      for (const id of this.working.get(queue) ?? []) boss.notifyWorker(id);
    };
    wakeAll();
    if (lastStartMs <= 0 || this.stopped) return;
    const timer = setTimeout(() => {
      this.wakeTimers.delete(timer);
      if (!this.stopped) wakeAll();
    }, lastStartMs + WAKE_MARGIN_MS);
    timer.unref();
    this.wakeTimers.add(timer);
  }

  /** One job of a batch; a failed one is retried (with backoff) without failing its batch-mates. */
  private async handle(boss: PgBoss, definition: QueueDefinition<any>, job: Job<object>): Promise<object | void> {
    try {
      if (this.options.isDraining()) throw new JobReleased();
      return await definition.handle(job.data);
    } catch (error) {
      if (error instanceof JobReleased) {
        // Shutting down: fetch nothing more (each job fetched now would only be handed back).
        for (const name of this.working.keys()) void boss.offWork(name, { wait: false }).catch(() => undefined);
        this.options.logger.info('job handed back at shutdown', { queue: definition.name });
      } else {
        this.options.logger.warn('job attempt failed; retried with backoff', { queue: definition.name, attempt: job.retryCount + 1, error });
      }
      throw error;
    }
  }
}

/** After the last job's start delay, before waking the workers again: its `start_after` has surely passed. */
const WAKE_MARGIN_MS = 50;

const SETTINGS: (keyof QueueOptions)[] = ['expireInSeconds', 'heartbeatSeconds', 'retryLimit', 'retryDelay', 'retryBackoff', 'retryDelayMax', 'deleteAfterSeconds', 'retentionSeconds'];

/** Whether a stored queue already has these settings. */
function sameSettings(queue: QueueOptions, options: QueueOptions): boolean {
  return SETTINGS.every((setting) => queue[setting] === options[setting]);
}
