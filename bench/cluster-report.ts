import type { ColdCacheResult } from './cold-cache.ts';
import type { ColdStartResult, StampedeResult } from './cluster.ts';
import { count, milliseconds, requestsPerSecond } from './report.ts';
import { round } from './statistics.ts';
import type { SweepResult } from './sweep.ts';
import type { RouteFigures, ThroughputResult } from './throughput.ts';

/** Everything the cluster benchmark measured; formatting only here. */
export interface ClusterResults {
  scale: number;
  machine: string;
  nodeVersion: string;
  connections: number;
  rounds: number;
  durationSeconds: number;
  bodyBytes: number;
  coldCount: number;
  throughput: ThroughputResult;
  coldPg: ColdCacheResult;
  coldSqlite: ColdCacheResult;
  coldStart: ColdStartResult;
  stampede: StampedeResult;
  stampedeProcesses: number;
  sweep: SweepResult;
  totalSeconds: number;
  /** The machine's one-minute load average at the start and at the end: others' work skews figures. */
  loadAverage: [number, number];
}

const failedAnswers = (route: RouteFigures): number => route.non2xx + route.errors + route.timeouts;

const route = (figures: RouteFigures) => ({
  rps: round(figures.requestsPerSecond),
  p50_ms: figures.latencyP50,
  p99_ms: figures.latencyP99,
  not_2xx: failedAnswers(figures),
});

const coldCache = (result: ColdCacheResult) => ({ cached: route(result.cached), cold: route(result.cold), p99_ratio: round(result.p99Ratio, 3) });

/**
 * The `--json` object: the figures the issue names at the top level, under exactly these keys,
 * and the details beside them.
 */
export function clusterFigures(results: ClusterResults): Record<string, unknown> {
  const { throughput, coldPg, coldSqlite, stampede, sweep, coldStart } = results;
  return {
    bench: 'tokenkeeper-cluster',
    token_route_ratio: round(throughput.throughputRatio, 3),
    cold_cache_ratio: round(coldPg.throughputRatio, 3),
    cold_cache_ratio_sqlite: round(coldSqlite.throughputRatio, 3),
    stampede_refresh_calls: stampede.refreshCalls,
    stampede_p99_ms: round(stampede.waitP99),
    sweep_rate_ratio: round(sweep.rateRatio, 3),
    sweep_provider_429s: sweep.provider429s,
    sweep_expired: sweep.expired,
    cold_start_ms: round(coldStart.medianMs),
    scale: results.scale,
    node: results.nodeVersion,
    machine: results.machine,
    duration_s: results.durationSeconds,
    connections: results.connections,
    rounds: results.rounds,
    body_bytes: results.bodyBytes,
    stored_connections: results.coldCount,
    token_route: { bare: route(throughput.bare), token: route(throughput.token), p99_ratio: round(throughput.p99Ratio, 3) },
    cold_cache: { postgres: coldCache(coldPg), sqlite: coldCache(coldSqlite) },
    stampede: {
      processes: results.stampedeProcesses,
      requests: stampede.count,
      ok_200: stampede.answered200,
      statuses: stampede.statuses,
      distinct_tokens: stampede.distinctTokens,
      token_changed: stampede.tokenChanged,
      token_accepted: stampede.tokenAccepted,
      wait_p50_ms: round(stampede.waitP50),
      wait_p99_ms: round(stampede.waitP99),
      wait_max_ms: round(stampede.waitMax),
      valid_token_p99_ms: round(stampede.validP99),
    },
    sweep: {
      connections: sweep.count,
      instances: sweep.instances,
      provider_limit_per_s: sweep.providerLimitPerSecond,
      integration_requests_per_minute: sweep.requestsPerMinute,
      seconds_left: sweep.secondsLeft,
      refreshed: sweep.refreshed,
      refreshes_per_s: round(sweep.refreshesPerSecond, 1),
      refresh_calls: sweep.refreshCalls,
      wall_s: round(sweep.wallSeconds, 1),
      statuses: sweep.statuses,
    },
    cold_start_samples_ms: results.coldStart.samples.map((sample) => round(sample)),
    load_average: results.loadAverage,
    total_s: results.totalSeconds,
  };
}

/** The block for the README's "Benchmarks" section, beside the embedded one. */
export function clusterMarkdown(results: ClusterResults): string {
  const { throughput, coldPg, coldSqlite, stampede, sweep, coldStart } = results;
  const ratio = (value: number) => `**${round(value, 2)}**`;
  const versus = (a: RouteFigures, b: RouteFigures) => `${requestsPerSecond(a.requestsPerSecond)} ÷ ${requestsPerSecond(b.requestsPerSecond)}`;
  const stored = count(results.coldCount);
  return [
    '| Cluster measurement (PostgreSQL) | Figure | Detail | Aim |',
    '|---|---:|---|---|',
    `| Token route (cached, valid token) ÷ bare route, one PostgreSQL-backed instance — \`token_route_ratio\` | ${ratio(throughput.throughputRatio)} | ${versus(throughput.token, throughput.bare)}; p99 ${milliseconds(throughput.token.latencyP99)} vs ${milliseconds(throughput.bare.latencyP99)} | ≥ 0.6 |`,
    `| Token route for a random connection of ${stored} (every request a cache miss) ÷ cached route, PostgreSQL — \`cold_cache_ratio\` | ${ratio(coldPg.throughputRatio)} | ${versus(coldPg.cold, coldPg.cached)}; p99 ${milliseconds(coldPg.cold.latencyP99)} | ≥ 0.5 |`,
    `| The same on SQLite — \`cold_cache_ratio_sqlite\` | ${ratio(coldSqlite.throughputRatio)} | ${versus(coldSqlite.cold, coldSqlite.cached)}; p99 ${milliseconds(coldSqlite.cold.latencyP99)} | ≥ 0.5 |`,
    `| ${count(stampede.count)} concurrent requests for one expired connection over ${results.stampedeProcesses} processes: provider refresh calls — \`stampede_refresh_calls\` | **${stampede.refreshCalls}** | ${count(stampede.answered200)} × 200, ${stampede.distinctTokens === 1 ? 'one token' : `${stampede.distinctTokens} tokens`}; wait p50 ${milliseconds(stampede.waitP50)}, p99 ${milliseconds(stampede.waitP99)} (\`stampede_p99_ms\`; the same burst on a valid token: p99 ${milliseconds(stampede.validP99)}) | must be 1 |`,
    `| ${count(sweep.count)} connections due at once, sandbox limit ${sweep.providerLimitPerSecond} token requests/s, ${sweep.instances} instances sweeping: refreshes/s ÷ ${sweep.providerLimitPerSecond} — \`sweep_rate_ratio\` | ${ratio(sweep.rateRatio)} | ${round(sweep.refreshesPerSecond, 1)}/s; ${count(sweep.refreshed)} refreshed, ${round(sweep.wallSeconds)} s from the spawn | ≥ 0.9 |`,
    `| … 429s provoked — \`sweep_provider_429s\` | **${count(sweep.provider429s)}** | of ${count(sweep.refreshCalls)} refresh requests | 0 |`,
    `| … tokens expired before their refresh — \`sweep_expired\` | **${count(sweep.expired)}** | they had ${sweep.secondsLeft} s left | must be 0 |`,
    `| \`tokenkeeper serve\` process start to \`/ready\`, ${stored} connections stored — \`cold_start_ms\` | **${count(Math.round(coldStart.medianMs))} ms** | median of ${coldStart.samples.map((sample) => count(Math.round(sample))).join(', ')} ms | < 1,000 ms |`,
    '',
    `<sub>\`npm run bench -- --cluster\`${results.scale === 1 ? '' : ` with BENCH_SCALE=${results.scale}`} on ${results.machine}, Node ${results.nodeVersion}, load average ${results.loadAverage[0]} at the start and ${results.loadAverage[1]} at the end: PostgreSQL, the sandbox provider, the load generator (autocannon, ${results.connections} connections, median of ${results.rounds} alternating ${results.durationSeconds} s runs per route after a warm-up; bursts over open keep-alive connections) and every Tokenkeeper process on the same machine. Routes measured in-process (the bare route needs the same server); stampede, sweep and start-up with real \`tokenkeeper serve\` processes.</sub>`,
  ].join('\n');
}
