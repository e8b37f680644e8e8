import type { Clock } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import type { AlertService, RaiseAlert } from '../alert-service.ts';
import { CACHE_HIT_RATE_LOW } from './built-in-alerts.ts';

/** The window is kept as this many buckets: it slides by one bucket (a minute of the default 15). */
const BUCKETS = 15;
/** How often an instance serving tokens looks at its hit rate (and, while low, re-raises its alert). */
export const CACHE_CHECK_EVERY_MS = 30_000;
/**
 * A low-hit-rate alert not raised again for this long is resolved by the periodic check: its
 * instance stopped (or went quiet, and a quiet instance never fires).
 */
export const CACHE_ALERT_STALE_AFTER_MS = 5 * 60_000;

/**
 * Token requests and cache hits of one instance over a sliding window, in buckets: memory is
 * fixed whatever the traffic, and the window slides a bucket at a time.
 */
export class SlidingHitWindow {
  private readonly bucketMs: number;
  private readonly buckets = new Map<number, { hits: number; requests: number }>();

  constructor(windowMs: number) {
    this.bucketMs = Math.max(1_000, Math.floor(windowMs / BUCKETS));
  }

  record(hit: boolean, now: number): void {
    const index = Math.floor(now / this.bucketMs);
    const bucket = this.buckets.get(index) ?? { hits: 0, requests: 0 };
    bucket.requests++;
    if (hit) bucket.hits++;
    this.buckets.set(index, bucket);
    if (this.buckets.size > BUCKETS + 1) this.prune(index);
  }

  /** The requests and hits in the last `BUCKETS` buckets, the current one included. */
  totals(now: number): { hits: number; requests: number } {
    const current = Math.floor(now / this.bucketMs);
    this.prune(current);
    let hits = 0;
    let requests = 0;
    for (const bucket of this.buckets.values()) {
      hits += bucket.hits;
      requests += bucket.requests;
    }
    return { hits, requests };
  }

  private prune(current: number): void {
    for (const index of this.buckets.keys()) if (index <= current - BUCKETS || index > current) this.buckets.delete(index);
  }
}

export interface CacheHitRateDeps {
  clock: Clock;
  logger: Logger;
  alerts: Pick<AlertService, 'raise' | 'resolve'>;
  /** This instance's name, the alert's key (`host:pid:…`). */
  instanceId: string;
  /** Below this share of hits the rule fires; 0 turns it off. */
  threshold: number;
  windowMs: number;
  minRequests: number;
}

/**
 * `cache_hit_rate_low` (LOW), per instance: the share of token requests answered without a
 * refresh (`token.served` with outcome `cached`) over the sliding window, against the
 * threshold, once at least `minRequests` were served in it (a quiet instance never fires).
 * Errors are left out: a request refused for `needs_reauth` says nothing of the cache. Evaluated
 * where the requests are, in this instance's memory: at most every `CACHE_CHECK_EVERY_MS` as
 * requests come, re-raising (so refreshing `last_seen_at`) while low and resolving when it
 * recovers; the periodic check resolves the alerts of instances that went silent.
 */
export class CacheHitRateRule {
  private readonly deps: CacheHitRateDeps;
  private readonly window: SlidingHitWindow;
  private lastCheckAt = Number.NEGATIVE_INFINITY;
  private checking: Promise<void> | null = null;
  /** Whether this instance raised its alert and has not resolved it since. */
  private raised = false;

  constructor(deps: CacheHitRateDeps) {
    this.deps = deps;
    this.window = new SlidingHitWindow(deps.windowMs);
  }

  /** One served token request; returns the check it started, if any (the event bus waits for it). */
  record(outcome: 'cached' | 'refreshed' | 'waited' | 'error'): Promise<void> | undefined {
    if (this.deps.threshold <= 0 || outcome === 'error') return undefined;
    const now = this.deps.clock.now();
    this.window.record(outcome === 'cached', now);
    if (now - this.lastCheckAt < CACHE_CHECK_EVERY_MS) return undefined;
    return this.check();
  }

  /** Looks at the rate now (one check at a time). */
  check(): Promise<void> {
    if (this.checking) return this.checking;
    this.lastCheckAt = this.deps.clock.now();
    this.checking = this.evaluate().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  /** The rate as the rule sees it now (null below the minimum number of requests). */
  rate(): { hits: number; requests: number; rate: number | null } {
    const { hits, requests } = this.window.totals(this.deps.clock.now());
    return { hits, requests, rate: requests >= this.deps.minRequests && requests > 0 ? hits / requests : null };
  }

  private async evaluate(): Promise<void> {
    if (this.deps.threshold <= 0) return;
    const { hits, requests, rate } = this.rate();
    if (rate !== null && rate < this.deps.threshold) {
      await this.deps.alerts.raise(this.alertOf(hits, requests, rate));
      this.raised = true;
    } else if (this.raised) {
      await this.deps.alerts.resolve(CACHE_HIT_RATE_LOW, this.deps.instanceId);
      this.raised = false;
    }
  }

  private alertOf(hits: number, requests: number, rate: number): RaiseAlert {
    const { instanceId, windowMs, threshold } = this.deps;
    return {
      type: CACHE_HIT_RATE_LOW,
      key: instanceId,
      severity: 'LOW',
      labels: { instance: instanceId },
      summary:
        `token cache hit rate on instance ${instanceId} is ${Math.round(rate * 100)} % over the last ${Math.round(windowMs / 60_000)} min ` +
        `(${hits} of ${requests} requests served without a refresh), below ${Math.round(threshold * 100)} %`,
    };
  }
}
