import { AlertNotifier, AlertService, DEFAULT_ALERT_POLICY, type AlertChannel, type AlertPolicy, type DeliveryTuning } from './alerts/index.ts';
import { AlertRules, GROUP_PHRASES, RULE_PHRASES, alertRuleSettingsOf } from './alerts/index.ts';
import { createAlertChannels } from './alerts/channels/index.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config/index.ts';
import { loadKeyRing, type KeyRing, type LoadKeyRingOptions } from './crypto/index.ts';
import { AppWebhookService, WebhookDispatcher, type WebhookRetryPolicy } from './delivery/index.ts';
import { EventBus } from './events.ts';
import { CONNECTION_STUCK, STUCK_CHECK_INTERVAL_MS, STUCK_REPEAT_FLOOR_MS, StuckConnections, runStuckCheck } from './health/index.ts';
import { IntegrationService } from './integrations/index.ts';
import {
  InProcessScheduler,
  JobRunner,
  PgBossQueue,
  enqueueCleanup,
  enqueueRefreshSweep,
  runCleanup,
  runRefreshSweep,
  tokenkeeperQueues,
  type ClusterJobTuning,
} from './jobs/index.ts';
import { createLogger, type Logger } from './logger.ts';
import { ProxyService } from './proxy/index.ts';
import { ActionService, createActionRegistry, IdempotentExecutions } from './actions/index.ts';
import { databaseOptionsOf, migrateToLatest, openChangeFeed, openDatabase, pendingMigrations, type ChangeFeed, type DatabaseHandle } from './store/index.ts';
import { ConnectFlow, ConnectionService, DEFAULT_CIRCUIT, OutboundGuard, TokenService, subscribeEventLog } from './tokens/index.ts';

export interface TokenkeeperOptions {
  config: Readonly<Config>;
  clock?: Clock;
  logger?: Logger;
  /** fetch used for provider calls (tests may pass one that records traffic). */
  fetch?: typeof fetch;
  /** Overrides of TokenService tuning (tests shorten backoffs). */
  tokenTuning?: Partial<Pick<import('./tokens/index.ts').TokenServiceOptions, 'requestRetry' | 'cooldown' | 'circuit' | 'degradeAfterFailures' | 'waitForHolderMs' | 'cacheMaxAgeMs' | 'holderPollMs' | 'random'>>;
  /** Random delay before each sweep refresh (default: up to 2 s). */
  sweepJitterMs?: number;
  /** How often to warn about a generated development key; default at every start (see `loadKeyRing`). */
  developmentKeyWarning?: LoadKeyRingOptions['developmentKeyWarning'];
  /** Overrides of the cluster job layer's timings (PostgreSQL; tests shorten them). */
  jobTuning?: Partial<ClusterJobTuning>;
  /** Alert delivery channels; default: the configured ones (`config.alertChannels`: the log always, plus webhook, Slack, e-mail, SMS, PagerDuty when set). */
  alertChannels?: AlertChannel[];
  /** Overrides of alert delivery retries and timeout (tests shorten them). */
  alertDelivery?: Partial<DeliveryTuning>;
  /** Overrides of the application webhooks' retry backoff (tests). */
  webhookRetry?: Partial<WebhookRetryPolicy>;
}

/**
 * One Tokenkeeper instance: storage, keys, domain services and jobs, wired once. The HTTP
 * server, the CLI and an embedding application all use this same object.
 */
export interface Tokenkeeper {
  config: Readonly<Config>;
  clock: Clock;
  logger: Logger;
  database: DatabaseHandle;
  /** The cross-process cache invalidation channel (PostgreSQL LISTEN/NOTIFY; nothing on SQLite). */
  changes: ChangeFeed;
  keyRing: KeyRing;
  events: EventBus;
  integrations: IntegrationService;
  tokens: TokenService;
  connections: ConnectionService;
  connect: ConnectFlow;
  /**
   * The authenticated proxy to provider APIs: `proxy.fetch(connectionId, path, init)` sends a call
   * with the connection's token and answers a standard Response (docs/proxy.md).
   */
  proxy: ProxyService;
  /**
   * Actions on a user's behalf (docs/actions.md): `list`, `preview` and `execute`, over the
   * registry of built-ins and TOKENKEEPER_ACTIONS_DIR modules (`actions.registry`).
   */
  actions: ActionService;
  /** Operator alerts: raise, resolve, list, silences. */
  alerts: AlertService;
  /** The notification policy engine; its `step` is the `notify` job. */
  notifier: AlertNotifier;
  /** Webhooks to the application: endpoints, delivery log, redelivery; `webhooks.dispatcher.step` is the `webhooks` job. */
  webhooks: AppWebhookService;
  /** The built-in alert rules: raised and resolved by events, and checked by the `alert-rules` job. */
  alertRules: AlertRules;
  /** The alert channels the notifier delivers to (for `POST /v1/alerts/test`). */
  alertChannels: readonly AlertChannel[];
  /** Stuck-connection detection; its alerts are raised by the `stuck` job. */
  stuck: StuckConnections;
  jobs: JobRunner;
  scheduler: InProcessScheduler;
  /** The cluster job layer (pg-boss) on PostgreSQL; null on SQLite. */
  jobQueue: PgBossQueue | null;
  /**
   * Starts the scheduler unless TOKENKEEPER_SCHEDULER is off: the tick timers (the sweep's only
   * when its interval is not 0) and, on PostgreSQL, this instance's workers of the durable job queues.
   */
  startScheduler(): void;
  close(): Promise<void>;
}

/** How often the alert policy is evaluated (its timings are seconds to hours; this bounds their lateness). */
const NOTIFY_INTERVAL_MS = 5_000;
/** How often the application webhooks' outbox is swept: retries that came due, events a crash left. */
const WEBHOOKS_INTERVAL_MS = 5_000;

export async function createTokenkeeper(options: TokenkeeperOptions): Promise<Tokenkeeper> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // Action modules (TOKENKEEPER_ACTIONS_DIR) are loaded and checked before anything is opened:
  // a broken one stops start-up with every problem named, and no state is touched.
  const actionRegistry = await createActionRegistry(config);
  const keyRing = loadKeyRing({ spec: config.encryptionKeys, env: config.env, dataDir: config.dataDir, logger, developmentKeyWarning: options.developmentKeyWarning });
  const database = await openDatabase(databaseOptionsOf(config));
  // The invalidation channel connects while the migrations are checked.
  const opening = openChangeFeed(databaseOptionsOf(config), logger);
  try {
    // Every start but the first after an upgrade finds nothing pending in one read, and skips the
    // migrator's locked run.
    const pending = await pendingMigrations(database.db).catch(() => null);
    if (pending === null || pending.length > 0) {
      const migrated = await migrateToLatest(database.db);
      if (migrated.applied.length > 0) logger.info('database migrated', { applied: migrated.applied, location: database.location });
    }
  } catch (error) {
    await (await opening).close();
    await database.close();
    throw error;
  }
  const db = database.db;
  const changes = await opening;
  const events = new EventBus(logger);
  const unsubscribeEventLog = subscribeEventLog(events, db, clock, logger);
  // One rate limiter and breaker per integration for every outbound call (invariant 8). On
  // PostgreSQL they are shared by every instance on the database, so a cluster stays under the
  // provider's limit; a dead instance's concurrency slots lapse a bit after the longest guarded
  // call (the code exchange's 15 s, or the refresh timeout if longer).
  const guard = new OutboundGuard({
    clock,
    events,
    logger,
    circuit: options.tokenTuning?.circuit ?? DEFAULT_CIRCUIT,
    // A proxied call holds its slot while the provider answers (up to the proxy timeout per silence).
    ...(database.dialect === 'postgres' ? { shared: { db, slotTtlMs: Math.max(config.refreshTimeoutMs, 15_000, config.proxy.timeoutMs) + 5_000 } } : {}),
  });
  const integrations: IntegrationService = new IntegrationService({
    db,
    keyRing,
    clock,
    events,
    callbackUrl: config.callbackUrl,
    defaultRefreshBufferSeconds: config.refreshBufferSeconds,
    requestTimeoutMs: config.refreshTimeoutMs,
    fetch: options.fetch,
    changes,
    guard: async (integrationId, call) =>
      guard.run(await integrations.recordById(integrationId), call, { maxWaitMs: 5_000, isProviderFault: () => true }),
  });
  const tokens = new TokenService({
    db,
    keyRing,
    clock,
    events,
    logger,
    integrations,
    leaseMs: config.leaseMs,
    refreshTimeoutMs: config.refreshTimeoutMs,
    maxCooldownMs: config.maxCooldownSeconds * 1000,
    guard,
    changes,
    ...options.tokenTuning,
  });
  const connections = new ConnectionService({ db, clock, events, logger, integrations, tokens });
  const proxy = new ProxyService({ tokens, connections, integrations, guard, events, clock, config: config.proxy });
  // An execute's claim on its Idempotency-Key outlives the longest execution: a refresh, every
  // attempt the proxy may make (the 401 retry and the 429/503 retries) and the waits between them.
  const { proxy: proxyConfig } = config;
  const claimTtlMs =
    config.refreshTimeoutMs + (proxyConfig.maxRetries + 2) * proxyConfig.timeoutMs + proxyConfig.maxRetries * proxyConfig.maxRetryWaitSeconds * 1000 + 15_000;
  const actions = new ActionService({
    registry: actionRegistry,
    connections,
    integrations,
    proxy,
    executions: new IdempotentExecutions({ db, keyRing, clock, claimTtlMs }),
    events,
    clock,
  });
  const connect = new ConnectFlow({
    db,
    keyRing,
    clock,
    events,
    logger,
    integrations,
    connections,
    publicUrl: config.publicUrl,
    allowedRedirectOrigins: config.allowedRedirectOrigins,
    allowLoopbackRedirects: config.env === 'development',
  });
  const sweepIntervalMs = Math.max(1, config.sweepIntervalSeconds) * 1000;
  const sweepJitterMs = options.sweepJitterMs ?? Math.min(2_000, sweepIntervalMs / 10);
  // On PostgreSQL, claimed ticks enqueue durable jobs that every instance works (src/jobs/, "Jobs
  // in a cluster" in docs/architecture.md); on SQLite, ticks run in process.
  const jobQueue =
    database.dialect === 'postgres' && config.databaseUrl !== null
      ? new PgBossQueue({
          db,
          url: config.databaseUrl,
          connectTimeoutMs: config.database.connectTimeoutMs,
          logger,
          isDraining: () => tokens.isDraining(),
          tuning: options.jobTuning,
        })
      : null;
  for (const definition of jobQueue ? tokenkeeperQueues({ db, clock, logger, tokens, connections, leaseMs: config.leaseMs }) : []) {
    jobQueue!.register(definition);
  }
  // Operator alerts (issue 8): raising only writes state; the `notify` job below evaluates the
  // policy and delivers. Its tick is claimed in job_state, so one instance per tick steps it on
  // either database; the step's own claims keep it at one notification even when two run.
  const alertPolicy: AlertPolicy = {
    ...DEFAULT_ALERT_POLICY,
    groupWaitMs: config.alertPolicy.groupWaitSeconds * 1000,
    groupIntervalMs: config.alertPolicy.groupIntervalSeconds * 1000,
    repeatIntervalMs: config.alertPolicy.repeatIntervalSeconds * 1000,
    escalateAfterMs: config.alertPolicy.escalateAfterSeconds * 1000,
    // Issue 8: the same stuck connection is re-notified at most every 6 h, even with a shorter repeat interval.
    minRepeatIntervalMsByType: { [CONNECTION_STUCK]: STUCK_REPEAT_FLOOR_MS },
  };
  const alerts = new AlertService({ db, clock, policy: alertPolicy });
  const alertChannels: AlertChannel[] = options.alertChannels ?? createAlertChannels(config.alertChannels, { logger, publicUrl: config.publicUrl });
  // A send may make several requests (one per SMS recipient, PagerDuty events in fours): the
  // engine's bound is a few of the channel's own request timeouts.
  const notifier = new AlertNotifier({
    db,
    clock,
    logger,
    alerts,
    policy: alertPolicy,
    channels: alertChannels,
    delivery: { sendTimeoutMs: 3 * config.alertChannels.timeoutMs, ...options.alertDelivery },
    phrases: { ...GROUP_PHRASES, ...RULE_PHRASES },
  });
  // The built-in rules (docs/alerts.md): events raise at once; the `alert-rules` job below
  // re-checks every rule against the database, so what an event missed is not lost.
  const alertRules = new AlertRules({ db, clock, logger, events, alerts, tokens, settings: alertRuleSettingsOf(config.alertRules, config.sweepIntervalSeconds) });
  const unsubscribeAlertRules = alertRules.subscribe();
  const stuck = new StuckConnections({
    db,
    clock,
    thresholds: {
      connectSessionMs: config.stuck.connectSessionAfterSeconds * 1000,
      degradedMs: config.stuck.degradedAfterSeconds * 1000,
      needsReauthMs: config.stuck.needsReauthAfterSeconds * 1000,
    },
  });
  // Webhooks to the application (issue 8, item 5): changes write their events to the outbox in
  // their own transactions; the dispatcher delivers them afterwards, woken by the lifecycle event
  // that follows each commit (once the scheduler runs) and by the `webhooks` job below.
  const webhookDispatcher = new WebhookDispatcher({ db, clock, logger, keyRing, timeoutMs: config.appWebhooks.timeoutMs, retry: options.webhookRetry });
  const unsubscribeWebhookWake = webhookDispatcher.listen(events);
  const webhooks = new AppWebhookService({ db, clock, keyRing, logger, dispatcher: webhookDispatcher, environment: config.appWebhooks.endpoint });
  await webhooks.syncEnvironmentEndpoint({ removeWhenUnset: false }).catch((error: unknown) => {
    logger.error('could not store the application webhook endpoint of TOKENKEEPER_APP_WEBHOOK_URL; `serve` tries again at its start', { error });
  });
  const jobs = new JobRunner({ db, clock, logger, queue: jobQueue }, [
    {
      name: 'refresh',
      intervalMs: sweepIntervalMs,
      run: () =>
        runRefreshSweep({
          db,
          clock,
          logger,
          tokens,
          connections,
          integrations,
          jitterMs: sweepJitterMs,
          concurrency: 4,
        }),
      enqueue: (queue) => enqueueRefreshSweep({ db, clock, integrations, jitterMs: sweepJitterMs, queue }),
    },
    { name: 'cleanup', intervalMs: 3_600_000, run: () => runCleanup({ db, clock }), enqueue: (queue) => enqueueCleanup(queue) },
    { name: 'notify', intervalMs: NOTIFY_INTERVAL_MS, run: () => notifier.step(), quiet: true },
    { name: 'webhooks', intervalMs: WEBHOOKS_INTERVAL_MS, run: () => webhookDispatcher.step(), quiet: true },
    { name: 'alert-rules', intervalMs: config.alertRules.intervalSeconds * 1000, run: () => alertRules.evaluate(), quiet: true },
    // Claimed per tick like `notify`: one instance of a cluster checks, on either database.
    { name: 'stuck', intervalMs: STUCK_CHECK_INTERVAL_MS, run: () => runStuckCheck({ stuck, alerts, logger }) },
  ]);
  const scheduler = new InProcessScheduler(jobs, logger);
  let closed = false;

  return {
    config,
    clock,
    logger,
    database,
    changes,
    keyRing,
    events,
    integrations,
    tokens,
    connections,
    connect,
    proxy,
    actions,
    alerts,
    notifier,
    webhooks,
    alertRules,
    alertChannels,
    stuck,
    jobs,
    scheduler,
    jobQueue,
    startScheduler: () => {
      // TOKENKEEPER_SCHEDULER=off: the API only (no tick, no worker); an external cron drives the
      // jobs through the cron routes.
      if (config.scheduler !== 'on' || closed) return;
      if (jobQueue) void jobQueue.startWorkers();
      webhookDispatcher.start();
      // TOKENKEEPER_SWEEP_INTERVAL=0 turns off this instance's sweep only: the alert policy, the
      // alert rules and cleanup keep their ticks (with no timer, no alert would ever be sent).
      scheduler.start({ runImmediately: true, skip: config.sweepIntervalSeconds > 0 ? [] : ['refresh'] });
    },
    close: async () => {
      if (closed) return;
      closed = true;
      // Invariant 3 at shutdown: no new refresh starts; those whose provider call is in flight
      // finish and commit (bounded by the lease) before the database closes.
      const draining = tokens.drain();
      await scheduler.stop();
      // Attempts in flight are stopped and their claims given back: another instance sends them.
      await webhookDispatcher.close();
      await Promise.allSettled(alertChannels.map((channel) => channel.close?.()));
      // Stop taking jobs; the ones running here finish with the drain (their leases end with their
      // commits), and any still running after it are handed back for another instance.
      await jobQueue?.stop(config.leaseMs + 5_000);
      const lost = await draining;
      if (lost > 0) logger.error('closed with refreshed token sets that could not be stored', { count: lost });
      proxy.close();
      // Permits given back to shared limits are written before the database closes.
      await guard.settled();
      await events.settled();
      unsubscribeAlertRules();
      unsubscribeWebhookWake();
      unsubscribeEventLog();
      await changes.close();
      await database.close();
    },
  };
}
