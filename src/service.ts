import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config/index.ts';
import { loadKeyRing, type KeyRing, type LoadKeyRingOptions } from './crypto/index.ts';
import { EventBus } from './events.ts';
import { IntegrationService } from './integrations/index.ts';
import { InProcessScheduler, JobRunner, runCleanup, runRefreshSweep } from './jobs/index.ts';
import { createLogger, type Logger } from './logger.ts';
import { databaseOptionsOf, migrateToLatest, openDatabase, type DatabaseHandle } from './store/index.ts';
import { ConnectFlow, ConnectionService, DEFAULT_CIRCUIT, OutboundGuard, TokenService, subscribeEventLog } from './tokens/index.ts';

export interface TokenkeeperOptions {
  config: Readonly<Config>;
  clock?: Clock;
  logger?: Logger;
  /** fetch used for provider calls (tests may pass one that records traffic). */
  fetch?: typeof fetch;
  /** Overrides of TokenService tuning (tests shorten backoffs). */
  tokenTuning?: Partial<Pick<import('./tokens/index.ts').TokenServiceOptions, 'requestRetry' | 'cooldown' | 'circuit' | 'degradeAfterFailures' | 'waitForHolderMs' | 'cacheMaxAgeMs' | 'random'>>;
  /** Random delay before each sweep refresh (default: up to 2 s). */
  sweepJitterMs?: number;
  /** How often to warn about a generated development key; default at every start (see `loadKeyRing`). */
  developmentKeyWarning?: LoadKeyRingOptions['developmentKeyWarning'];
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
  keyRing: KeyRing;
  events: EventBus;
  integrations: IntegrationService;
  tokens: TokenService;
  connections: ConnectionService;
  connect: ConnectFlow;
  jobs: JobRunner;
  scheduler: InProcessScheduler;
  /** Starts the in-process scheduler (unless TOKENKEEPER_SCHEDULER is off or the sweep interval is 0). */
  startScheduler(): void;
  close(): Promise<void>;
}

export async function createTokenkeeper(options: TokenkeeperOptions): Promise<Tokenkeeper> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const keyRing = loadKeyRing({ spec: config.encryptionKeys, env: config.env, dataDir: config.dataDir, logger, developmentKeyWarning: options.developmentKeyWarning });
  const database = await openDatabase(databaseOptionsOf(config));
  try {
    const migrated = await migrateToLatest(database.db);
    if (migrated.applied.length > 0) logger.info('database migrated', { applied: migrated.applied, location: database.location });
  } catch (error) {
    await database.close();
    throw error;
  }
  const db = database.db;
  const events = new EventBus(logger);
  const unsubscribeEventLog = subscribeEventLog(events, db, clock, logger);
  // One rate limiter and breaker per integration for every outbound call (invariant 8).
  const guard = new OutboundGuard({ clock, events, circuit: options.tokenTuning?.circuit ?? DEFAULT_CIRCUIT });
  const integrations: IntegrationService = new IntegrationService({
    db,
    keyRing,
    clock,
    events,
    callbackUrl: config.callbackUrl,
    defaultRefreshBufferSeconds: config.refreshBufferSeconds,
    requestTimeoutMs: config.refreshTimeoutMs,
    fetch: options.fetch,
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
    ...options.tokenTuning,
  });
  const connections = new ConnectionService({ db, clock, events, logger, integrations, tokens });
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
  const jobs = new JobRunner({ db, clock, logger }, [
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
          jitterMs: options.sweepJitterMs ?? Math.min(2_000, sweepIntervalMs / 10),
          concurrency: 4,
        }),
    },
    { name: 'cleanup', intervalMs: 3_600_000, run: () => runCleanup({ db, clock }) },
  ]);
  const scheduler = new InProcessScheduler(jobs, logger);
  let closed = false;

  return {
    config,
    clock,
    logger,
    database,
    keyRing,
    events,
    integrations,
    tokens,
    connections,
    connect,
    jobs,
    scheduler,
    startScheduler: () => {
      // TOKENKEEPER_SCHEDULER=off: the API only; an external cron drives the jobs through the cron routes.
      if (config.scheduler === 'on' && config.sweepIntervalSeconds > 0) scheduler.start({ runImmediately: true });
    },
    close: async () => {
      if (closed) return;
      closed = true;
      // Invariant 3 at shutdown: no new refresh starts; those whose provider call is in flight
      // finish and commit (bounded by the lease) before the database closes.
      const draining = tokens.drain();
      await scheduler.stop();
      const lost = await draining;
      if (lost > 0) logger.error('closed with refreshed token sets that could not be stored', { count: lost });
      await events.settled();
      unsubscribeEventLog();
      await database.close();
    },
  };
}
