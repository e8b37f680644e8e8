import type { Logger } from '../logger.ts';
import type { JobRunner } from './job-runner.ts';

/**
 * The embedded shape's scheduler: one timer per job. Timers are unref'd so they never keep a
 * process alive, and a tick that throws is logged and forgotten: the next tick tries again.
 */
export class InProcessScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly runner: JobRunner;
  private readonly logger: Logger;
  private stopped = false;
  private readonly running = new Set<Promise<unknown>>();

  constructor(runner: JobRunner, logger: Logger) {
    this.runner = runner;
    this.logger = logger;
  }

  /** `skip`: jobs given no timer here (the sweep of an instance whose sweep interval is 0). */
  start(options: { runImmediately?: boolean; skip?: readonly string[] } = {}): void {
    for (const name of this.runner.names()) {
      if (options.skip?.includes(name)) continue;
      const job = this.runner.get(name)!;
      const tick = (): void => {
        if (this.stopped) return;
        const run = this.runner.tick(name).catch((error: unknown) => this.logger.error('scheduled job failed', { job: name, error }));
        this.running.add(run);
        void run.finally(() => this.running.delete(run));
      };
      const timer = setInterval(tick, job.intervalMs);
      timer.unref();
      this.timers.push(timer);
      if (options.runImmediately) setImmediate(tick);
    }
  }

  /** Stops the timers; resolves when the ticks already running have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    await Promise.allSettled([...this.running]);
  }
}
