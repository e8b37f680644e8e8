import { MAX_MINTED_GRANTS } from '../src/sandbox/index.ts';
import { SANDBOX_INTEGRATION_KEY } from '../src/server.ts';
import type { BenchService } from './bench-service.ts';
import { seedConnections } from './seed-connections.ts';
import { spawnServe, waitReady, type ServeProcess } from './serve-process.ts';

export interface SweepPlan {
  /** The in-process instance on the same database: seeds, changes the integration, watches rows. */
  service: BenchService;
  databaseUrl: string;
  /** Connections that come due at once. */
  count: number;
  /** What the sandbox enforces (`rateLimitPerSecond`). */
  providerLimitPerSecond: number;
  /** The integration's `settings.rateLimit.requestsPerMinute`. */
  requestsPerMinute: number;
  /** The integration's `settings.rateLimit.requestsPerSecond`: the provider's limit less a margin. */
  requestsPerSecond: number;
  instances: number;
  sweepIntervalSeconds: number;
  progress(message: string): void;
  /** More variables for the instances, and what they wrote, for looking into a run. */
  nodeEnv?: Record<string, string>;
  onNodeOutput?(name: string, output: string): void;
}

export interface SweepResult {
  count: number;
  instances: number;
  providerLimitPerSecond: number;
  requestsPerMinute: number;
  /** Seconds of life the tokens had left when the instances started. */
  secondsLeft: number;
  refreshed: number;
  /** refreshed ÷ seconds from the first refresh committed to the last (or to the end of watching). */
  refreshesPerSecond: number;
  rateRatio: number;
  /** Answers 429 the sandbox gave for its limit. */
  provider429s: number;
  /** Refresh requests that reached the sandbox (429s included). */
  refreshCalls: number;
  /** Connections whose token expired before a refreshed one was stored (or that were never refreshed). */
  expired: number;
  /** From the instances' spawn to the last refresh committed. */
  wallSeconds: number;
  /** Status → connections, at the end (needs_reauth would mean a grant was lost). */
  statuses: Record<string, number>;
}

/** Lifetime the seeded tokens were granted: an hour, like Google's, so 25 % of it is far beyond `secondsLeft`. */
const LIFETIME_MS = 3_600_000;
const OWNER_PREFIX = 'sweep-';

/**
 * `count` connections with real sandbox grants, all due at once, and `instances` real
 * `tokenkeeper serve` processes sweeping them while the sandbox enforces a provider rate limit.
 * The tokens have twice the time left that refreshing all of them at the provider's limit takes
 * (at least a minute), so a sweep that keeps pace with the provider loses none; the figures are
 * the rate achieved against the limit, the 429s provoked and the tokens that expired first.
 */
export async function measureSweep(plan: SweepPlan): Promise<SweepResult> {
  const { service, progress } = plan;
  const { sandbox } = service;
  const db = service.running.tk.database.db;
  const integration = await service.running.tk.integrations.findByKey(SANDBOX_INTEGRATION_KEY);
  if (!integration) throw new Error('the sandbox integration is missing');

  if (plan.count > MAX_MINTED_GRANTS) throw new Error(`the sweep measures at most ${MAX_MINTED_GRANTS} connections`);
  progress(`minting ${plan.count} grants at the sandbox`);
  // Account ids `sweep-<n>`, the same as the connections' below.
  const grants = await sandbox.mintGrants({ count: plan.count, accountPrefix: OWNER_PREFIX });

  const idealSeconds = plan.count / plan.providerLimitPerSecond;
  const secondsLeft = Math.max(60, Math.ceil(2 * idealSeconds + 20));
  const seededAt = Date.now();
  const expiresAt = seededAt + secondsLeft * 1000;
  const issuedAt = expiresAt - LIFETIME_MS;
  progress(`storing ${plan.count} connections due at once, ${secondsLeft} s of life left`);
  await seedConnections({
    db,
    keyRing: service.running.tk.keyRing,
    integrationId: integration.id,
    count: plan.count,
    prefix: OWNER_PREFIX,
    tokens: (n) => ({ access_token: `bench-sweep-access-${n}`, refresh_token: grants[n - 1]!.refreshToken, id_token: null }),
    scopes: grants[0]!.scope.split(' '),
    issuedAt,
    expiresAt,
    now: seededAt,
  });
  // The provider's limit less a margin, as the integration's own setting: what an operator would set.
  await service.running.tk.integrations.update(SANDBOX_INTEGRATION_KEY, {
    settings: { ...integration.settings, rateLimit: { requestsPerMinute: plan.requestsPerMinute, requestsPerSecond: plan.requestsPerSecond } },
  });
  sandbox.resetStats();
  sandbox.setFaults({ rateLimitPerSecond: plan.providerLimitPerSecond });

  const refreshedSoFar = async () => {
    const row = await db
      .selectFrom('connections')
      .select((eb) => [eb.fn.countAll<number>().as('refreshed'), eb.fn.min('updated_at').as('first'), eb.fn.max('updated_at').as('last')])
      .where('owner_id', 'like', `${OWNER_PREFIX}%`)
      .where('issued_at', '>', issuedAt)
      .executeTakeFirstOrThrow();
    return { refreshed: Number(row.refreshed), first: row.first === null ? null : Number(row.first), last: row.last === null ? null : Number(row.last) };
  };

  const launchedAt = Date.now();
  const nodes: ServeProcess[] = [];
  let observed = { refreshed: 0, first: null as number | null, last: null as number | null };
  let watchedUntil = launchedAt;
  try {
    for (let index = 1; index <= plan.instances; index++) {
      nodes.push(await spawnServe({ name: `sweeper-${index}`, databaseUrl: plan.databaseUrl, encryptionKeys: service.encryptionKeys, sweepIntervalSeconds: plan.sweepIntervalSeconds, env: plan.nodeEnv }));
    }
    await Promise.all(nodes.map((node) => waitReady(node)));
    progress(`${plan.instances} instances sweeping (TOKENKEEPER_SWEEP_INTERVAL=${plan.sweepIntervalSeconds}); the sandbox allows ${plan.providerLimitPerSecond} token requests/s`);
    let lastReport = 0;
    // Past the expiry nothing more can be refreshed in time: stop watching there.
    while (Date.now() < expiresAt + 2_000) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      observed = await refreshedSoFar();
      watchedUntil = Date.now();
      if (observed.refreshed >= plan.count) break;
      for (const node of nodes) {
        if (node.child.exitCode !== null || node.child.signalCode !== null) throw new Error(`${node.name} exited during the sweep:\n${node.output().slice(-2_000)}`);
      }
      if (watchedUntil - lastReport >= 5_000) {
        lastReport = watchedUntil;
        const stats = sandbox.stats();
        progress(`  ${Math.round((watchedUntil - launchedAt) / 1000)} s: ${observed.refreshed} of ${plan.count} refreshed, ${stats.rateLimited} × 429`);
      }
    }
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    for (const node of nodes) plan.onNodeOutput?.(node.name, node.output());
    sandbox.resetFaults();
  }
  const stats = sandbox.stats();

  const inTime = await db
    .selectFrom('connections')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('owner_id', 'like', `${OWNER_PREFIX}%`)
    .where('issued_at', '>', issuedAt)
    .where('updated_at', '<=', expiresAt)
    .executeTakeFirstOrThrow();
  const statusRows = await db
    .selectFrom('connections')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .where('owner_id', 'like', `${OWNER_PREFIX}%`)
    .groupBy('status')
    .execute();
  const windowEnd = observed.refreshed >= plan.count && observed.last !== null ? observed.last : watchedUntil;
  const windowSeconds = observed.first === null ? 0 : Math.max(0.001, (windowEnd - observed.first) / 1000);
  const refreshesPerSecond = windowSeconds === 0 ? 0 : observed.refreshed / windowSeconds;
  return {
    count: plan.count,
    instances: plan.instances,
    providerLimitPerSecond: plan.providerLimitPerSecond,
    requestsPerMinute: plan.requestsPerMinute,
    secondsLeft,
    refreshed: observed.refreshed,
    refreshesPerSecond,
    rateRatio: refreshesPerSecond / plan.providerLimitPerSecond,
    provider429s: stats.rateLimited,
    refreshCalls: stats.byGrantType.refresh_token ?? 0,
    expired: plan.count - Number(inTime.count),
    wallSeconds: ((observed.last ?? watchedUntil) - launchedAt) / 1000,
    statuses: Object.fromEntries(statusRows.map((row) => [row.status, Number(row.count)])),
  };
}
