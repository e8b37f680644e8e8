import type { Clock } from '../clock.ts';
import { sleep } from './backoff.ts';

/**
 * Client-side outbound limits for one provider integration: a token bucket for requests per
 * minute plus a cap on concurrent calls. `acquire` waits up to `maxWaitMs` for room and returns
 * false past that, so a request path never queues unboundedly behind a sweep.
 */
export class RateLimiter {
  private tokens: number;
  private lastRefill: number;
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly perMinute: number;
  private readonly concurrency: number;
  private readonly clock: Clock;

  constructor(options: { requestsPerMinute: number; concurrency: number }, clock: Clock) {
    this.perMinute = Math.max(1, options.requestsPerMinute);
    this.concurrency = Math.max(1, options.concurrency);
    this.clock = clock;
    this.tokens = Math.min(this.perMinute, Math.max(1, Math.ceil(this.perMinute / 6)));
    this.lastRefill = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.lastRefill);
    this.tokens = Math.min(this.perMinute, this.tokens + (elapsed * this.perMinute) / 60_000);
    this.lastRefill = now;
  }

  /** Resolves true with a slot held (call `release()` after), or false if none came in time. */
  async acquire(maxWaitMs: number): Promise<boolean> {
    const deadline = this.clock.now() + maxWaitMs;
    for (;;) {
      this.refill();
      if (this.active < this.concurrency && this.tokens >= 1) {
        this.tokens -= 1;
        this.active += 1;
        return true;
      }
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) return false;
      if (this.active >= this.concurrency) {
        const released = new Promise<void>((resolve) => this.waiters.push(resolve));
        await Promise.race([released, sleep(remaining)]);
      } else {
        const needMs = Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute);
        await sleep(Math.min(remaining, Math.max(5, needMs)));
      }
    }
  }

  release(): void {
    this.active = Math.max(0, this.active - 1);
    this.waiters.shift()?.();
  }
}
