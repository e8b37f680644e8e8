import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { claimJobTick, recordJobFinished, type Database } from '../store/index.ts';
import type { JobQueue } from './job-queue.ts';
import type { JobReport } from './refresh-sweep.ts';

export interface JobDefinition {
  name: string;
  intervalMs: number;
  /** Does the whole job here and now. */
  run(): Promise<JobReport>;
  /**
   * On the cluster job layer (PostgreSQL): what a claimed tick does instead of `run`, handing the
   * work to durable queues that every instance works.
   */
  enqueue?(queue: JobQueue): Promise<JobReport>;
  /** Frequent housekeeping (every few seconds): its reports are logged at debug, not info. */
  quiet?: boolean;
}

export interface JobRunnerDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  /** The cluster job layer, on PostgreSQL; null runs every tick in process. */
  queue?: JobQueue | null;
}

/**
 * Runs named jobs for every scheduler adapter: the in-process timer (claims the tick first, so
 * several processes on one database run each tick once) and the HTTP cron route (the external
 * scheduler is the tick; every job is harmless if it runs twice). With the cluster job layer, a
 * claimed tick enqueues its work instead of doing it (see `JobDefinition.enqueue`); the cron
 * route and the CLI still run jobs here, since their caller waits for the report.
 */
export class JobRunner {
  private readonly jobs = new Map<string, JobDefinition>();
  private readonly running = new Map<string, Promise<JobReport>>();
  private readonly deps: JobRunnerDeps;

  constructor(deps: JobRunnerDeps, jobs: JobDefinition[]) {
    this.deps = deps;
    for (const job of jobs) this.jobs.set(job.name, job);
  }

  names(): string[] {
    return [...this.jobs.keys()];
  }

  get(name: string): JobDefinition | undefined {
    return this.jobs.get(name);
  }

  /** Runs now; a run of the same job already going in this process is joined, not doubled. */
  async run(name: string): Promise<JobReport> {
    const job = this.jobs.get(name);
    if (!job) throw new TokenkeeperError('unknown_job', `No job "${name}". Jobs: ${this.names().join(', ')}.`);
    return this.once(name, name, () => job.run());
  }

  /**
   * A timer tick: runs only if no process has claimed this interval yet. On the cluster job
   * layer the tick's work is enqueued; if the queue cannot take it (pg-boss cannot reach its
   * schema), the work is done here rather than not at all.
   */
  async tick(name: string): Promise<JobReport | null> {
    const job = this.jobs.get(name);
    if (!job) return null;
    if (!(await claimJobTick(this.deps.db, name, this.deps.clock.now(), job.intervalMs))) return null;
    const queue = this.deps.queue;
    if (!queue || !job.enqueue) return this.run(name);
    const enqueue = job.enqueue.bind(job);
    // Its own key: a cron call waiting for an in-process report never joins an enqueueing tick.
    return this.once(`${name}:enqueue`, name, async () => {
      try {
        return await enqueue(queue);
      } catch (error) {
        this.deps.logger.error('could not enqueue the tick; running it in this process', { job: name, error });
        return job.run();
      }
    });
  }

  private once(key: string, name: string, work: () => Promise<JobReport>): Promise<JobReport> {
    const current = this.running.get(key);
    if (current) return current;
    const promise = (async () => {
      const report = await work();
      await recordJobFinished(this.deps.db, name, this.deps.clock.now(), report).catch(() => undefined);
      if (this.jobs.get(name)?.quiet) this.deps.logger.debug('job finished', { ...report });
      else this.deps.logger.info('job finished', { ...report });
      return report;
    })().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }
}
