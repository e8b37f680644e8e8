import type { Clock } from '../clock.ts';
import type { KeyRing } from '../crypto/index.ts';
import type { EventBus, EventName } from '../events.ts';
import { newId, randomToken } from '../ids.ts';
import type { Logger } from '../logger.ts';
import {
  claimWebhookDelivery,
  dueWebhookDeliveries,
  insertWebhookDeliveries,
  listAppWebhooks,
  markAppEventsDispatched,
  recordWebhookAttempt,
  releaseWebhookDelivery,
  undispatchedAppEvents,
  type Database,
  type DueWebhookDelivery,
  type NewWebhookDelivery,
} from '../store/index.ts';
import { webhookHeaders } from './standard-webhooks.ts';
import { DEFAULT_WEBHOOK_RETRY, nextWebhookAttempt, type WebhookRetryPolicy } from './webhook-backoff.ts';
import { webhookBody } from './webhook-json.ts';
import { postWebhook } from './webhook-post.ts';

export interface WebhookDispatcherOptions {
  db: Database;
  clock: Clock;
  logger: Logger;
  keyRing: KeyRing;
  /** One attempt (connection, answer, body) longer than this fails: `TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS`. */
  timeoutMs: number;
  retry?: Partial<WebhookRetryPolicy>;
  random?: () => number;
  /** Endpoints delivered to at once by one step (each endpoint's deliveries go one at a time). Default 8. */
  concurrency?: number;
  /** Events fanned out, and due deliveries fetched, per round. Default 100. */
  batchSize?: number;
}

/** What one step did (the `webhooks` job's report). */
export interface WebhooksReport {
  job: 'webhooks';
  /** Events fanned out to their endpoints. */
  checked: number;
  /** Deliveries written by that fan-out. */
  deliveries: number;
  delivered: number;
  /** Attempts that failed (retried later, or `failed` for good once the retry window is over). */
  failed: number;
  refreshed: 0;
  needs_reauth: 0;
  duration_ms: number;
}

/** The lifecycle events (EventBus, emitted after commit) whose writes put events in the outbox. */
const OUTBOX_WRITERS: readonly EventName[] = [
  'connection.created',
  'connection.reconnected',
  'connection.recovered',
  'connection.needs_reauth',
  'connection.deleted',
  'token.refreshed',
  'token.refresh_failed',
  'integration.failing',
  'integration.recovered',
];

/** How much longer than one attempt's timeout a claim lasts: recording the outcome takes a moment too. */
const CLAIM_MARGIN_MS = 5_000;

/**
 * Delivers the application's webhooks from the outbox (invariant 11). A step:
 *
 * 1. fans out: each event not yet dispatched gets one delivery row per endpoint whose filter names
 *    its type, and is marked dispatched, in one transaction. Deliveries are unique per (endpoint,
 *    event), so two instances fanning out together, or a step repeated after a crash, write each
 *    once;
 * 2. delivers what is due: each row is claimed first by a conditional write (store
 *    `claimWebhookDelivery`), so no two instances send it at once; the body is signed per
 *    Standard Webhooks with the endpoint's secret, `webhook-id` = the event id on every attempt.
 *    A 2xx is delivered; anything else (another status, no answer, a timeout) is retried with
 *    exponential backoff and jitter until 24 h have passed, then `failed`. At least once: a
 *    sender that dies mid-request leaves a claim that lapses, and the row is sent again.
 *
 * Never on the path of the code that changed state: it only reads the outbox that code wrote.
 * The periodic `webhooks` job steps it (retries, and events a crash left behind); once started,
 * `wake()` steps it right after a change commits, in the background.
 */
export class WebhookDispatcher {
  private readonly options: WebhookDispatcherOptions;
  private readonly retry: WebhookRetryPolicy;
  private readonly stopping = new AbortController();
  private current: Promise<WebhooksReport> | null = null;
  private again = false;
  private started = false;
  private scheduled = false;
  private closed = false;
  /**
   * The event types some endpoint subscribes to, as of the last step (null before the first).
   * Only for skipping pointless wakes: a refresh wakes the dispatcher only when some endpoint
   * wants `connection.refreshed`. An endpoint created elsewhere meanwhile is served by the job.
   */
  private subscribed: ReadonlySet<string> | null = null;

  constructor(options: WebhookDispatcherOptions) {
    this.options = options;
    this.retry = { ...DEFAULT_WEBHOOK_RETRY, ...options.retry };
  }

  /** From now on, `wake()` steps in the background (the server; not one-shot CLI commands). */
  start(): void {
    this.started = true;
  }

  /**
   * A change that may have written the outbox has committed: step soon. Returns at once; a step
   * already running runs once more instead of a second one starting.
   */
  wake(): void {
    if (!this.started || this.closed || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed) return;
      this.step().catch((error: unknown) => this.options.logger.warn('webhook delivery step failed; the webhooks job tries again', { error }));
    });
  }

  /** Wakes the dispatcher whenever a lifecycle event that writes the outbox is emitted. */
  listen(bus: EventBus): () => void {
    const unsubscribers = OUTBOX_WRITERS.map((name) =>
      bus.on(name, () => {
        // The busiest event: a plain refresh writes only `connection.refreshed` (a recovery has its own event).
        if (name === 'token.refreshed' && this.subscribed && !this.subscribed.has('connection.refreshed')) return;
        this.wake();
      }),
    );
    return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
  }

  /**
   * One step (fan out, then deliver what is due). Called while one runs, it joins it and makes it
   * go round once more, so work that arrived meanwhile is not left for the next tick.
   */
  step(): Promise<WebhooksReport> {
    if (this.closed) return Promise.resolve({ job: 'webhooks', checked: 0, deliveries: 0, delivered: 0, failed: 0, refreshed: 0, needs_reauth: 0, duration_ms: 0 });
    if (this.current) {
      this.again = true;
      return this.current;
    }
    const run = (async () => {
      const startedAt = performance.now();
      const report: WebhooksReport = { job: 'webhooks', checked: 0, deliveries: 0, delivered: 0, failed: 0, refreshed: 0, needs_reauth: 0, duration_ms: 0 };
      do {
        this.again = false;
        await this.fanOut(report);
        await this.deliverDue(report);
      } while (this.again && !this.closed);
      report.duration_ms = Math.round(performance.now() - startedAt);
      return report;
    })();
    this.current = run.finally(() => {
      this.current = null;
    });
    return this.current;
  }

  /** Resolves when no step is running (tests; shutdown). */
  async settled(): Promise<void> {
    while (this.current) await this.current.catch(() => undefined);
  }

  /**
   * Stops waking and aborts the attempts in flight: their claims are given back, so another
   * instance (or the next start) sends them at once. Resolves when the step has ended.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    await this.settled();
  }

  private async fanOut(report: WebhooksReport): Promise<void> {
    const { db, clock } = this.options;
    const batchSize = this.options.batchSize ?? 100;
    for (;;) {
      const events = await undispatchedAppEvents(db, batchSize);
      if (events.length === 0) return;
      const endpoints = await listAppWebhooks(db);
      const now = clock.now();
      const rows: NewWebhookDelivery[] = [];
      for (const event of events) {
        for (const endpoint of endpoints) {
          if (!endpoint.events.includes(event.type)) continue;
          rows.push({ id: newId('dlv'), webhookId: endpoint.id, eventId: event.id, eventType: event.type, retryUntil: now + this.retry.windowMs, createdAt: now });
        }
      }
      await db.transaction().execute(async (trx) => {
        // A write first: on SQLite it takes the write lock before anything is read.
        await markAppEventsDispatched(trx, events.map((event) => event.id), now);
        // An endpoint deleted since it was listed: its rows would break the foreign key, and
        // it wants nothing anyway.
        const live = new Set((await listAppWebhooks(trx)).map((endpoint) => endpoint.id));
        await insertWebhookDeliveries(trx, rows.filter((row) => live.has(row.webhookId)));
      });
      report.checked += events.length;
      report.deliveries += rows.length;
      if (events.length < batchSize || this.closed) return;
    }
  }

  /** Every endpoint's due deliveries; endpoints side by side, each one's in order. */
  private async deliverDue(report: WebhooksReport): Promise<void> {
    const endpoints = await listAppWebhooks(this.options.db);
    this.subscribed = new Set(endpoints.flatMap((endpoint) => endpoint.events));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < endpoints.length && !this.closed) await this.deliverTo(endpoints[next++]!.id, report);
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency ?? 8, endpoints.length) }, worker));
  }

  /**
   * One endpoint's due deliveries, one at a time in the order their events happened, so a
   * receiver that answers hears of `integration.failing` before `integration.recovered`. The
   * first failure ends the endpoint's turn until the next step: the rest stay due, and a receiver
   * that is down gets one request per step rather than a burst (a retried delivery can then
   * arrive after later ones; each event says when it happened).
   */
  private async deliverTo(webhookId: string, report: WebhooksReport): Promise<void> {
    const { db, clock } = this.options;
    const batchSize = this.options.batchSize ?? 100;
    for (let round = 0; round < 10 && !this.closed; round++) {
      const due = await dueWebhookDeliveries(db, webhookId, clock.now(), batchSize);
      for (const item of due) {
        if (this.closed) return;
        const outcome = await this.deliver(item);
        if (outcome === 'delivered') report.delivered++;
        else if (outcome === 'failed') {
          report.failed++;
          return;
        }
      }
      if (due.length < batchSize) return;
    }
  }

  private async deliver(due: DueWebhookDelivery): Promise<'delivered' | 'failed' | 'skipped'> {
    const { db, clock, logger, keyRing, timeoutMs } = this.options;
    const { delivery } = due;
    const token = randomToken(16);
    const claimedAt = clock.now();
    if (!(await claimWebhookDelivery(db, delivery.id, claimedAt, claimedAt + timeoutMs + CLAIM_MARGIN_MS, token))) return 'skipped';
    const fields = { webhook_id: delivery.webhookId, delivery_id: delivery.id, event_id: delivery.eventId, event_type: delivery.eventType, attempt: delivery.attempts + 1 };
    let secret: string;
    try {
      secret = keyRing.open(due.secretSealed, `app_webhooks:${delivery.webhookId}:secret`);
    } catch (error) {
      // The key that sealed it was removed from TOKENKEEPER_ENCRYPTION_KEYS: retried, so that
      // putting the key back delivers what waited.
      return this.failed(delivery, token, { status: null, error: 'the endpoint’s signing secret cannot be decrypted with the configured TOKENKEEPER_ENCRYPTION_KEYS' }, fields, error);
    }
    const body = webhookBody(due.event);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Tokenkeeper-Webhooks',
      ...webhookHeaders(secret, due.event.id, Math.floor(clock.now() / 1000), body),
    };
    const outcome = await postWebhook({ url: due.url, headers, body, timeoutMs, signal: this.stopping.signal });
    if (outcome.aborted) {
      await releaseWebhookDelivery(db, delivery.id, token).catch(() => undefined);
      return 'skipped';
    }
    if (!outcome.delivered) return this.failed(delivery, token, { status: outcome.status, error: outcome.error! }, fields);
    const recorded = await recordWebhookAttempt(db, delivery.id, token, { at: clock.now(), delivered: true, responseStatus: outcome.status, error: null, retryAt: null });
    if (recorded) logger.debug('webhook delivered', { ...fields, status: outcome.status });
    return 'delivered';
  }

  private async failed(
    delivery: DueWebhookDelivery['delivery'],
    token: string,
    failure: { status: number | null; error: string },
    fields: Record<string, unknown>,
    cause?: unknown,
  ): Promise<'failed'> {
    const { db, clock, logger } = this.options;
    const now = clock.now();
    const retryAt = nextWebhookAttempt(now, delivery.attempts + 1, delivery.retryUntil, this.retry, this.options.random);
    await recordWebhookAttempt(db, delivery.id, token, { at: now, delivered: false, responseStatus: failure.status, error: failure.error, retryAt });
    if (retryAt === null) {
      logger.error('webhook delivery failed for good: retried for its whole window; redeliver it with `tokenkeeper webhooks retry` once the receiver is fixed', { ...fields, error: failure.error, ...(cause ? { cause } : {}) });
    } else {
      logger.warn('webhook delivery failed; retrying with backoff', { ...fields, error: failure.error, retry_at: new Date(retryAt).toISOString(), ...(cause ? { cause } : {}) });
    }
    return 'failed';
  }
}
