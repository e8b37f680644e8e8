/**
 * `npm run bench -- --cluster`: the cluster shape, on PostgreSQL, in one run —
 *  1. the token route (cached, valid token) of a PostgreSQL-backed instance ÷ a bare route of
 *     the same server (`token_route_ratio`);
 *  2. the token route for a random connection among 100,000, every request a cache miss, ÷ the
 *     cached route, on PostgreSQL and on SQLite (`cold_cache_ratio`, `cold_cache_ratio_sqlite`);
 *  3. `tokenkeeper serve` from process start to `/ready` with those connections stored (`cold_start_ms`);
 *  4. 1,000 concurrent requests for one expired connection spread over 4 processes: provider
 *     refresh calls, which must be 1 (`stampede_refresh_calls`), and the p99 wait;
 *  5. 10,000 connections due at once, the sandbox enforcing 200 token requests/s, 2 instances
 *     sweeping: refreshes/s ÷ 200, 429s provoked, tokens expired before their refresh, which must
 *     be none (`sweep_rate_ratio`, `sweep_provider_429s`, `sweep_expired`).
 * Parts 1–2 run against instances in this process (the bare route needs one); 3–5 against real
 * `tokenkeeper serve` processes. One sandbox provider, in this process, serves them all.
 */
import { loadavg } from 'node:os';
import { KeyRing } from '../src/crypto/index.ts';
import { startSandbox, type SandboxServer } from '../src/sandbox/index.ts';
import { SANDBOX_INTEGRATION_KEY } from '../src/server.ts';
import { BARE_PATH, matchBareBody, startBenchService, TOKEN_TTL_SECONDS, type BenchService } from './bench-service.ts';
import { measureColdCache, shuffled, type ColdCacheResult } from './cold-cache.ts';
import { measureExpiredBurst, type ExpiredBurstResult } from './expired-burst.ts';
import { LoadClient } from './load-client.ts';
import type { BenchOptions } from './options.ts';
import { DEFAULT_BENCH_DATABASE_URL, freshBenchSchema, type BenchSchema } from './postgres-schema.ts';
import { autocannonHeader, autocannonRow, count, describeMachine, milliseconds } from './report.ts';
import { clusterFigures, clusterMarkdown, type ClusterResults } from './cluster-report.ts';
import { seedConnections } from './seed-connections.ts';
import { spawnServe, stopAllServe, waitReady, type ServeProcess } from './serve-process.ts';
import { median, percentile, round } from './statistics.ts';
import { measureSweep, type SweepResult } from './sweep.ts';
import { measureThroughput } from './throughput.ts';

const CONNECTIONS = 50;
const ROUNDS = 2;
const COLD_CONNECTIONS = 100_000;
const SWEEP_CONNECTIONS = 10_000;
const STAMPEDE_REQUESTS = 1_000;
const STAMPEDE_PROCESSES = 4;
const SWEEP_INSTANCES = 2;
const PROVIDER_LIMIT_PER_SECOND = 200;
/** The integration's limit: the provider's per minute, and 95 % of it per second (the margin an operator leaves). */
const INTEGRATION_REQUESTS_PER_MINUTE = PROVIDER_LIMIT_PER_SECOND * 60;
const INTEGRATION_REQUESTS_PER_SECOND = Math.floor(PROVIDER_LIMIT_PER_SECOND * 0.95);
/** The shortest TOKENKEEPER_SWEEP_INTERVAL allowed. */
const SWEEP_INTERVAL_SECONDS = 5;
const COLD_START_SAMPLES = 3;

export async function runClusterBench(options: BenchOptions, print: (text?: string) => void): Promise<number> {
  const startedAt = performance.now();
  const progress = (text: string): void => {
    process.stderr.write(`[${round((performance.now() - startedAt) / 1000, 1)} s] ${text}\n`);
  };
  // At least 20,000 whatever the scale: a pass over the list must take longer than the cache's one-second age.
  const coldCount = Math.max(20_000, Math.round(COLD_CONNECTIONS * options.scale));
  const sweepCount = Math.max(100, Math.round(SWEEP_CONNECTIONS * options.scale));
  const durationSeconds = options.durationSeconds;
  const warmupSeconds = Math.min(2, durationSeconds);
  const machine = describeMachine();
  const baseUrl = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL || DEFAULT_BENCH_DATABASE_URL;

  const loadAtStart = loadavg()[0]!;
  print('Tokenkeeper cluster benchmark');
  print(`  ${machine}, Node ${process.version}, load average ${round(loadAtStart, 1)}; scale ${options.scale} (${count(coldCount)} stored connections, ${count(sweepCount)} swept)`);

  let schema: BenchSchema | null = null;
  let sandbox: SandboxServer | null = null;
  let load: LoadClient | null = null;
  let pgService: BenchService | null = null;
  let sqliteService: BenchService | null = null;
  try {
    schema = await freshBenchSchema(baseUrl);
    print(`  PostgreSQL ${schema.location}; one sandbox provider (access tokens live ${TOKEN_TTL_SECONDS} s); load from a separate process\n`);
    sandbox = await startSandbox({ accessTokenTtlSeconds: TOKEN_TTL_SECONDS });
    load = new LoadClient();
    const encryptionKeys = KeyRing.generateKeySpec('k1');

    // 1–2 on PostgreSQL: an instance in this process, so the bare route is on the same server.
    progress('starting an instance on PostgreSQL in this process');
    pgService = await startBenchService({ databaseUrl: schema.url, sandbox, encryptionKeys });
    const pgConnection = await pgService.connectAccount('bench-user');
    const headers = { authorization: `Bearer ${pgService.apiKey}` };
    const tokenPath = `/v1/connections/${pgConnection}/token`;
    const bodyBytes = await matchBareBody(pgService, `${pgService.url}${tokenPath}`, headers);
    const pgColdPaths = await seedCold(pgService, coldCount, progress);

    print(`1. PostgreSQL: GET /v1/connections/:id/token (valid token, cached) vs GET ${BARE_PATH}, ${bodyBytes} B bodies`);
    print(`   autocannon, ${CONNECTIONS} connections, ${durationSeconds} s per run, ${ROUNDS} alternating runs per route after a ${warmupSeconds} s warm-up of each\n`);
    print(`   ${autocannonHeader()}`);
    const throughput = await measureThroughput(load, {
      bareUrl: `${pgService.url}${BARE_PATH}`,
      tokenUrl: `${pgService.url}${tokenPath}`,
      headers,
      connections: CONNECTIONS,
      durationSeconds,
      warmupSeconds,
      rounds: ROUNDS,
      onRun: (route, roundNumber, summary) => print(`   ${autocannonRow(`${route} #${roundNumber}`, summary)}`),
    });
    const throughputFailed = [throughput.bare, throughput.token].reduce((sum, route) => sum + route.non2xx + route.errors + route.timeouts, 0);
    print(`   token ÷ bare: ${round(throughput.throughputRatio, 2)} (aim ≥ 0.6)${throughputFailed > 0 ? `; ${count(throughputFailed)} answers not 2xx` : ''}\n`);

    const coldPg = await coldCacheRun(load, pgService, tokenPath, pgColdPaths, headers, 'PostgreSQL', { durationSeconds, warmupSeconds }, print);

    progress('starting an instance on SQLite in this process');
    sqliteService = await startBenchService({ sandbox });
    const sqliteConnection = await sqliteService.connectAccount('bench-user');
    const sqliteHeaders = { authorization: `Bearer ${sqliteService.apiKey}` };
    const sqliteColdPaths = await seedCold(sqliteService, coldCount, progress);
    const coldSqlite = await coldCacheRun(
      load,
      sqliteService,
      `/v1/connections/${sqliteConnection}/token`,
      sqliteColdPaths,
      sqliteHeaders,
      'SQLite',
      { durationSeconds, warmupSeconds },
      print,
    );
    await sqliteService.close();
    sqliteService = null;

    // 3–5: real `tokenkeeper serve` processes on the PostgreSQL schema; this process's instance
    // prepares rows and watches them.
    const coldStart = await measureColdStart(schema.url, encryptionKeys, coldCount + 1, print);
    const stampede = await measureStampede(load, pgService, schema.url, pgConnection, headers, print, progress);

    print(`5. Sweep: ${count(sweepCount)} connections due at once, the sandbox allows ${PROVIDER_LIMIT_PER_SECOND} token requests/s, ${SWEEP_INSTANCES} instances`);
    print(`   the integration's settings.rateLimit: requestsPerMinute ${count(INTEGRATION_REQUESTS_PER_MINUTE)}, requestsPerSecond ${INTEGRATION_REQUESTS_PER_SECOND} (95 % of the provider's limit)`);
    const sweep = await measureSweep({
      service: pgService,
      databaseUrl: schema.url,
      count: sweepCount,
      providerLimitPerSecond: PROVIDER_LIMIT_PER_SECOND,
      requestsPerMinute: INTEGRATION_REQUESTS_PER_MINUTE,
      requestsPerSecond: INTEGRATION_REQUESTS_PER_SECOND,
      instances: SWEEP_INSTANCES,
      sweepIntervalSeconds: SWEEP_INTERVAL_SECONDS,
      progress,
    });
    printSweep(sweep, print);

    const totalSeconds = round((performance.now() - startedAt) / 1000, 1);
    const results: ClusterResults = {
      scale: options.scale,
      machine,
      nodeVersion: process.version,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      durationSeconds,
      bodyBytes,
      coldCount,
      throughput,
      coldPg,
      coldSqlite,
      coldStart,
      stampede,
      stampedeProcesses: STAMPEDE_PROCESSES,
      sweep,
      totalSeconds,
      loadAverage: [round(loadAtStart, 1), round(loadavg()[0]!, 1)],
    };
    const figures = clusterFigures(results);
    const failures: string[] = [];
    if (stampede.refreshCalls !== 1) failures.push(`stampede_refresh_calls is ${stampede.refreshCalls}, must be 1`);
    if (sweep.expired > 0) failures.push(`sweep_expired is ${sweep.expired}, must be 0`);
    print(`\nREADME "Cluster" block:\n\n${clusterMarkdown(results)}\n`);
    print(failures.length === 0 ? `The must-hold checks passed, in ${totalSeconds} s.` : `MUST-HOLD CHECKS FAILED: ${failures.join('; ')} (in ${totalSeconds} s).`);
    process.stdout.write(`${JSON.stringify({ ...figures, passed: failures.length === 0, failures })}\n`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    await stopAllServe();
    await load?.close();
    await pgService?.close().catch((error: unknown) => progress(`closing the PostgreSQL instance: ${String(error)}`));
    await sqliteService?.close().catch((error: unknown) => progress(`closing the SQLite instance: ${String(error)}`));
    await sandbox?.close();
    await schema?.drop().catch((error: unknown) => progress(`dropping the benchmark schema: ${String(error)}`));
  }
}

/** `count` connections with valid (sealed, unexpired) tokens; returns their token paths, shuffled. */
async function seedCold(service: BenchService, connections: number, progress: (text: string) => void): Promise<string[]> {
  const integration = await service.running.tk.integrations.findByKey(SANDBOX_INTEGRATION_KEY);
  if (!integration) throw new Error('the sandbox integration is missing');
  const started = performance.now();
  const now = Date.now();
  const ids = await seedConnections({
    db: service.running.tk.database.db,
    keyRing: service.running.tk.keyRing,
    integrationId: integration.id,
    count: connections,
    prefix: 'cold-',
    // Never given to a provider: these are only read, decrypted and served.
    tokens: (n) => ({ access_token: `bench-cold-access-${n}-${'x'.repeat(24)}`, refresh_token: `bench-cold-refresh-${n}`, id_token: null }),
    scopes: ['openid', 'offline_access', 'api'],
    // A day-long token issued now: valid, and far from due, for the whole run.
    issuedAt: now,
    expiresAt: now + 86_400_000,
    now,
  });
  progress(`stored ${count(connections)} connections on ${service.running.tk.database.dialect} in ${milliseconds(performance.now() - started)}`);
  return shuffled(ids).map((id) => `/v1/connections/${id}/token`);
}

async function coldCacheRun(
  load: LoadClient,
  service: BenchService,
  cachedPath: string,
  coldPaths: string[],
  headers: Record<string, string>,
  label: string,
  timing: { durationSeconds: number; warmupSeconds: number },
  print: (text?: string) => void,
): Promise<ColdCacheResult> {
  print(`2. ${label}: the token route for a random connection of ${count(coldPaths.length)} (every request a cache miss) vs the cached route`);
  print(`   ${autocannonHeader()}`);
  const result = await measureColdCache(load, {
    origin: service.url,
    cachedPath,
    coldPaths,
    headers,
    connections: CONNECTIONS,
    durationSeconds: timing.durationSeconds,
    warmupSeconds: timing.warmupSeconds,
    rounds: ROUNDS,
    onRun: (route, roundNumber, summary) => print(`   ${autocannonRow(`${route} #${roundNumber}`, summary)}`),
  });
  if (result.cold.requestsPerSecond * 2 > coldPaths.length) {
    print(`   note: at ${count(result.cold.requestsPerSecond)} req/s a connection comes round again within 2 s; some cold requests may have been cache hits`);
  }
  const failed = result.cold.non2xx + result.cold.errors + result.cold.timeouts + result.cached.non2xx + result.cached.errors + result.cached.timeouts;
  print(`   cold ÷ cached: ${round(result.throughputRatio, 2)} (aim ≥ 0.5)${failed > 0 ? `; ${count(failed)} answers not 2xx` : ''}\n`);
  return result;
}

export interface ColdStartResult {
  samples: number[];
  medianMs: number;
  storedConnections: number;
}

/** `tokenkeeper serve` from spawn to its first 200 on `/ready`, one process at a time. */
async function measureColdStart(databaseUrl: string, encryptionKeys: string, storedConnections: number, print: (text?: string) => void): Promise<ColdStartResult> {
  print(`3. tokenkeeper serve, process start to /ready, ${count(storedConnections)} connections stored (${COLD_START_SAMPLES} starts, one at a time)`);
  const samples: number[] = [];
  for (let index = 1; index <= COLD_START_SAMPLES; index++) {
    const node = await spawnServe({ name: `cold-start-${index}`, databaseUrl, encryptionKeys });
    try {
      samples.push(await waitReady(node));
    } finally {
      await node.stop();
    }
  }
  const medianMs = median(samples);
  print(`   ${samples.map((sample) => milliseconds(sample)).join(', ')}: median ${milliseconds(medianMs)} (aim < 1,000 ms)\n`);
  return { samples, medianMs, storedConnections };
}

export interface StampedeResult extends ExpiredBurstResult {
  /** p99 of the same burst when the token is valid (served from each process's cache). */
  validP99: number;
}

/**
 * The embedded burst (expired-burst.ts) spread over `STAMPEDE_PROCESSES` real processes: the
 * connection is made expired through the API, each process's cached copy is left to lapse, and
 * the requests are dealt to the processes in turn, all in flight together.
 */
async function measureStampede(
  load: LoadClient,
  service: BenchService,
  databaseUrl: string,
  connectionId: string,
  headers: Record<string, string>,
  print: (text?: string) => void,
  progress: (text: string) => void,
): Promise<StampedeResult> {
  print(`4. ${count(STAMPEDE_REQUESTS)} concurrent GET /v1/connections/:id/token for one expired connection, over ${STAMPEDE_PROCESSES} tokenkeeper serve processes`);
  const nodes: ServeProcess[] = [];
  try {
    for (let index = 1; index <= STAMPEDE_PROCESSES; index++) {
      nodes.push(await spawnServe({ name: `stampede-${index}`, databaseUrl, encryptionKeys: service.encryptionKeys }));
    }
    await Promise.all(nodes.map((node) => waitReady(node)));
    const urls = nodes.map((node) => `${node.url}/v1/connections/${connectionId}/token`);
    progress(`${STAMPEDE_PROCESSES} processes ready; opening ${count(STAMPEDE_REQUESTS)} keep-alive connections to them`);
    // Open the burst's connections first, on the still-valid token, so TCP set-up is not timed.
    const warm = await load.burst({ url: urls[0]!, urls, headers, count: STAMPEDE_REQUESTS });
    if ((warm.statuses['200'] ?? 0) !== STAMPEDE_REQUESTS) throw new Error(`stampede warm-up: ${JSON.stringify(warm.statuses)} ${warm.sampleFailures.join('; ')}`);
    // The same burst on the valid token, connections open: what the wait costs without a refresh.
    const valid = await load.burst({ url: urls[0]!, urls, headers, count: STAMPEDE_REQUESTS });
    const validP99 = percentile(valid.latenciesMs, 99);
    const burst = await measureExpiredBurst(service, load, {
      connectionId,
      tokenUrl: `${service.url}/v1/connections/${connectionId}/token`,
      headers,
      count: STAMPEDE_REQUESTS,
      providerLatencyMs: 0,
      spreadUrls: urls,
      settleMs: 1_500,
    });
    const statuses = Object.entries(burst.statuses)
      .map(([status, n]) => `${count(n)} × ${status === '0' ? 'transport error' : status}`)
      .join(', ');
    print(`   provider refresh calls: ${burst.refreshCalls} (must be 1)`);
    print(`   answers: ${statuses}; ${burst.distinctTokens === 1 ? 'one token for all' : `${burst.distinctTokens} different tokens`}${burst.tokenChanged ? ', new' : ''}${burst.tokenAccepted ? ', accepted by the provider API' : ''}`);
    print(`   wait: p50 ${milliseconds(burst.waitP50)}, p99 ${milliseconds(burst.waitP99)}, max ${milliseconds(burst.waitMax)}; the same burst on a valid token: p99 ${milliseconds(validP99)}\n`);
    for (const failure of burst.sampleFailures) print(`   e.g. ${failure}`);
    return { ...burst, validP99 };
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

function printSweep(sweep: SweepResult, print: (text?: string) => void): void {
  print(`   refreshed ${count(sweep.refreshed)} of ${count(sweep.count)} at ${round(sweep.refreshesPerSecond, 1)}/s: ${round(sweep.rateRatio, 2)} of the provider's limit (aim ≥ 0.9), in ${round(sweep.wallSeconds, 1)} s from the spawn`);
  print(`   429s provoked: ${count(sweep.provider429s)} (aim 0); refresh requests at the provider: ${count(sweep.refreshCalls)}`);
  print(`   tokens expired before their refresh: ${count(sweep.expired)} of ${count(sweep.count)}, which had ${sweep.secondsLeft} s left (must be 0)`);
  print(`   statuses after: ${Object.entries(sweep.statuses).map(([status, n]) => `${count(n)} ${status}`).join(', ')}`);
}
