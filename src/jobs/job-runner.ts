import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { claimJobTick, recordJobFinished, type Database } from '../store/index.ts';
import type { JobReport } from './refresh-sweep.ts';

export interface JobDefinition {
  name: string;
  intervalMs: number;
  run(): Promise<JobReport>;
}

/**
 * Runs named jobs for every scheduler adapter: the in-process timer (claims the tick first, so
 * several processes on one database run each tick once) and the HTTP cron route (the external
 * scheduler is the tick; every job is harmless if it runs twice).
 */
export class JobRunner {
  private readonly jobs = new Map<string, JobDefinition>();
  private readonly running = new Map<string, Promise<JobReport>>();
  private readonly deps: { db: Database; clock: Clock; logger: Logger };

  constructor(deps: { db: Database; clock: Clock; logger: Logger }, jobs: JobDefinition[]) {
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
    const current = this.running.get(name);
    if (current) return current;
    const promise = (async () => {
      const report = await job.run();
      await recordJobFinished(this.deps.db, name, this.deps.clock.now(), report).catch(() => undefined);
      this.deps.logger.info('job finished', { ...report });
      return report;
    })().finally(() => this.running.delete(name));
    this.running.set(name, promise);
    return promise;
  }

  /** A timer tick: runs only if no process has claimed this interval yet. */
  async tick(name: string): Promise<JobReport | null> {
    const job = this.jobs.get(name);
    if (!job) return null;
    if (!(await claimJobTick(this.deps.db, name, this.deps.clock.now(), job.intervalMs))) return null;
    return this.run(name);
  }
}
