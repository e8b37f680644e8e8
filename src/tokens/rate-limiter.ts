import type { Clock } from '../clock.ts';
import type { RateLimit } from '../providers/index.ts';
import type { OutboundBucketShape } from '../store/index.ts';
import { sleep } from './backoff.ts';

/**
 * The one rule for the token bucket of a rate limit, used by this process's limiter and by the
 * one shared on PostgreSQL alike. It refills at the limit's rate and holds at most a sixth of a
 * minute's budget (and at least one token), which is also what a new bucket starts with: a
 * bucket that could hold a whole minute's budget would let a burst after an idle minute plus the
 * minute's own refill send twice the provider's limit within one minute; a sixth bounds any
 * minute to 7/6 of it. With `requestsPerSecond` (providers that enforce per second) the rate is
 * the lower of the two and the bucket holds at most a twentieth of a second's budget, so calls
 * are paced evenly and no one-second window sees more than 1.05 times that rate.
 */
export function bucketShapeOf(rateLimit: RateLimit): OutboundBucketShape {
  const perMinute = Math.max(1, rateLimit.requestsPerMinute);
  const perSecond = rateLimit.requestsPerSecond;
  const minuteCapacity = Math.max(1, Math.ceil(perMinute / 6));
  if (perSecond === undefined) return { capacity: minuteCapacity, refillPerMs: perMinute / 60_000, concurrency: Math.max(1, rateLimit.concurrency) };
  return {
    capacity: Math.min(minuteCapacity, Math.max(1, Math.floor(perSecond / 20))),
    refillPerMs: Math.min(perMinute / 60_000, perSecond / 1_000),
    concurrency: Math.max(1, rateLimit.concurrency),
  };
}

/**
 * Client-side outbound limits for one provider integration in this process (the embedded shape):
 * a token bucket for requests per minute plus a cap on concurrent calls. `acquire` waits up to
 * `maxWaitMs` for room and returns false past that, so a request path never queues unboundedly
 * behind a sweep.
 */
export class RateLimiter {
  private tokens: number;
  private lastRefill: number;
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly shape: OutboundBucketShape;
  private readonly clock: Clock;

  constructor(options: RateLimit, clock: Clock) {
    this.shape = bucketShapeOf(options);
    this.clock = clock;
    this.tokens = this.shape.capacity;
    this.lastRefill = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.lastRefill);
    this.tokens = Math.min(this.shape.capacity, this.tokens + elapsed * this.shape.refillPerMs);
    this.lastRefill = now;
  }

  /** Resolves true with a slot held (call `release()` after), or false if none came in time. */
  async acquire(maxWaitMs: number): Promise<boolean> {
    const deadline = this.clock.now() + maxWaitMs;
    for (;;) {
      this.refill();
      if (this.active < this.shape.concurrency && this.tokens >= 1) {
        this.tokens -= 1;
        this.active += 1;
        return true;
      }
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) return false;
      if (this.active >= this.shape.concurrency) {
        const released = new Promise<void>((resolve) => this.waiters.push(resolve));
        await Promise.race([released, sleep(remaining)]);
      } else {
        const needMs = Math.ceil((1 - this.tokens) / this.shape.refillPerMs);
        await sleep(Math.min(remaining, Math.max(5, needMs)));
      }
    }
  }

  release(): void {
    this.active = Math.max(0, this.active - 1);
    this.waiters.shift()?.();
  }
}
