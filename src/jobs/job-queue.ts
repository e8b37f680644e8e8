/**
 * A durable queue of one kind of job, worked by every instance of a cluster. Tokenkeeper's own
 * queues (refresh, system-token, cleanup) are defined this way, and so are the ones later
 * capabilities add (alert evaluation, syncs): a name, how much of it one instance works at once,
 * how long one job may run, and the handler.
 */
export interface QueueDefinition<Data extends object = object> {
  /** Letters, digits, `-`, `_` and `.`; stable, since queued jobs are stored under it. */
  name: string;
  /** How many jobs of this queue one instance works at once. */
  concurrency: number;
  /**
   * The longest one job may legitimately run. Past it the job counts as lost and is retried,
   * possibly elsewhere; a dead instance's jobs are noticed sooner, by their missing heartbeat.
   * Handlers must be harmless when a job runs twice (invariant 6).
   */
  expireSeconds: number;
  /** How many times a failed attempt is retried (with exponential backoff) before the job fails. */
  retryLimit: number;
  /** Does the job. Throwing fails this attempt, which is retried until `retryLimit`. */
  handle(data: Data): Promise<object | void>;
}

/** One job to enqueue: `key` identifies the work (a connection id), `data` is what the handler gets. */
export interface QueuedJob<Data extends object = object> {
  key: string;
  data: Data;
  /** Delay before the job may start (spreads a batch that came due together). */
  startAfterMs?: number;
}

/** What a scheduled tick needs from a queue: enqueueing, one job per key. */
export interface JobQueue {
  /**
   * Enqueues jobs; a key that already has a job queued, waiting for a retry or running is not
   * queued again. Resolves with how many jobs were new.
   */
  enqueue<Data extends object>(queue: string, jobs: QueuedJob<Data>[]): Promise<number>;
  /**
   * The keys among `keys` that have a job queued, waiting for a retry or running: work already
   * taken care of, which a tick need not offer again. `enqueue` would ignore them too, but only
   * after the database has tried to insert each one; asking first is one read.
   */
  inFlight(queue: string, keys: readonly string[]): Promise<Set<string>>;
}
