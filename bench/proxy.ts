/**
 * `npm run bench -- --proxy`: what the authenticated proxy (issue 9, docs/proxy.md) costs. A
 * local upstream API (bench/proxy-upstream.ts, a process of its own) stands in for a provider,
 * Tokenkeeper runs in this process (SQLite, the sandbox provider), the load comes from a third.
 *  1. GET /v1/proxy/:id/items through Tokenkeeper against the same GET sent straight to the
 *     upstream with the connection's token, and through a pass-through route of the same server
 *     (bench/pass-through-route.ts: the hop alone): autocannon, 50 connections, alternating runs;
 *     proxied ÷ direct throughput (aim ≥ 0.7) and p99, and proxied ÷ pass-through.
 *  2. The latency Tokenkeeper adds at p50 and p99: one request at a time, the three routes in
 *     turn, each timed to the microsecond. Not taken from run 1: autocannon counts whole
 *     milliseconds, and with 50 connections in flight its latencies are mostly queueing.
 *  3. One integration alone under run 1's load: every proxied call takes a permit of its
 *     integration's rate limiter, and the highest `rateLimit` an integration may have paces it.
 *
 * Runs 1 and 2 spread their calls over 20 integrations of the sandbox provider (one connected
 * account each, all pointing `settings.apiBaseUrl` at the upstream, each at the highest
 * `rateLimit`), so that the limiters' joint pace stays far above what is measured: the figure is
 * the proxy's own work, the limiter's bookkeeping included, not the limit. Run 3 shows the limit.
 */
import { loadavg } from 'node:os';
import { SANDBOX_DEFAULT_CLIENT } from '../src/sandbox/index.ts';
import { RATE_LIMIT_BOUNDS } from '../src/providers/index.ts';
import { bucketShapeOf } from '../src/tokens/rate-limiter.ts';
import { startBenchService, TOKEN_TTL_SECONDS, type BenchService } from './bench-service.ts';
import { fetchToken } from './expired-burst.ts';
import { LoadClient } from './load-client.ts';
import { addPassThroughRoute, PASS_THROUGH_PATH } from './pass-through-route.ts';
import type { LoadTarget, SequenceSummary } from './load-messages.ts';
import type { BenchOptions } from './options.ts';
import { proxyFigures, proxyMarkdown, type LatencyFigures, type ProxyBenchResult } from './proxy-report.ts';
import { autocannonHeader, autocannonRow, count, describeMachine, passFail, preciseMilliseconds as exact, requestsPerSecond, routeSummary } from './report.ts';
import { percentile, round } from './statistics.ts';
import { measureAlternating, pairOf, type RouteFigures } from './throughput.ts';
import { startUpstreamProcess, type UpstreamProcess } from './upstream-process.ts';

/** In the order they run, and the order of every per-route list below. */
const ROUTE_NAMES = ['direct', 'pass-through', 'proxied'] as const;
type RouteName = (typeof ROUTE_NAMES)[number];
const CONNECTIONS = 50;
const ROUNDS = 3;
const INTEGRATIONS = 20;
const THROUGHPUT_RATIO_AIM = 0.7;
/** The highest `rateLimit` setting allowed (src/providers/rate-limit-setting.ts). */
const HIGHEST_RATE_LIMIT = {
  requestsPerMinute: RATE_LIMIT_BOUNDS.requestsPerMinute.max,
  requestsPerSecond: RATE_LIMIT_BOUNDS.requestsPerSecond.max,
  concurrency: RATE_LIMIT_BOUNDS.concurrency.max,
};

export async function runProxyBench(options: BenchOptions, print: (text?: string) => void): Promise<number> {
  const startedAt = performance.now();
  const { durationSeconds } = options;
  const warmupSeconds = Math.min(2, durationSeconds);
  const machine = describeMachine();
  const integrationPace = bucketShapeOf(HIGHEST_RATE_LIMIT).refillPerMs * 1000;
  const loadAtStart = loadavg()[0]!;
  print('Tokenkeeper proxy benchmark');
  print(`  ${machine}, Node ${process.version}, load average ${round(loadAtStart, 1)}`);
  print('  Tokenkeeper (SQLite in a temp dir, sandbox provider) in this process; the upstream API (node:http) and the load generator in processes of their own\n');

  let upstream: UpstreamProcess | null = null;
  let service: BenchService | null = null;
  let load: LoadClient | null = null;
  let closePassThrough = (): void => undefined;
  try {
    upstream = await startUpstreamProcess();
    const upstreamUrl = upstream.url;
    service = await startBenchService({
      // Each autocannon run ends by closing its connections with calls in flight, and each such
      // call is logged as a warning (502, the caller went away): thousands of lines, no news.
      env: { TOKENKEEPER_LOG_LEVEL: 'error' },
      extend: (app) => (closePassThrough = addPassThroughRoute(app, upstreamUrl)),
    });
    load = new LoadClient();
    const connectionIds = await connectThroughUpstream(service, upstreamUrl);
    const accessTokens = await Promise.all(
      connectionIds.map(async (id) => (await fetchToken(`${service!.url}/v1/connections/${id}/token`, { authorization: `Bearer ${service!.apiKey}` })).access_token),
    );
    await upstream.accept(accessTokens);
    const tokenHeaders = { authorization: `Bearer ${accessTokens[0]}` };
    const proxyPaths = connectionIds.map((id) => `/v1/proxy/${id}/items`);
    const routes: Record<RouteName, LoadTarget> = {
      direct: { url: `${upstreamUrl}/items`, paths: ['/items'], headers: tokenHeaders },
      'pass-through': { url: `${service.url}${PASS_THROUGH_PATH}`, paths: [PASS_THROUGH_PATH], headers: tokenHeaders },
      proxied: { url: `${service.url}${proxyPaths[0]}`, paths: proxyPaths, headers: { authorization: `Bearer ${service.apiKey}` } },
    };
    await checkSameAnswer(Object.values(routes));
    print(`Connected ${INTEGRATIONS} sandbox accounts through the OAuth flow, one per integration, each integration's settings.apiBaseUrl ${upstreamUrl}`);
    print(`  rateLimit ${JSON.stringify(HIGHEST_RATE_LIMIT)} (the highest allowed): each integration paced at ${requestsPerSecond(integrationPace)}, ${requestsPerSecond(integrationPace * INTEGRATIONS)} together`);
    print(`  access tokens live ${TOKEN_TTL_SECONDS} s (no refresh during the run); GET /items answers ${upstream.bodyBytes} B of JSON, the same bytes on every route`);
    print('  routes: direct = GET /items at the upstream with the token; pass-through = the least a hop through the same server can do');
    print(`  (${PASS_THROUGH_PATH}: forward, stream back, nothing else); proxied = GET /v1/proxy/:id/items with the API key, the upstream checking the injected token\n`);

    print('1. Throughput under load');
    print(`   autocannon, ${CONNECTIONS} connections, ${durationSeconds} s per run, ${ROUNDS} alternating runs per route after a ${warmupSeconds} s warm-up of each; proxied calls over the ${INTEGRATIONS} connections in turn\n`);
    print(`   ${autocannonHeader()}`);
    const [direct, passThrough, proxied] = (await measureAlternating(load, {
      targets: ROUTE_NAMES.map((name) => routes[name]),
      connections: CONNECTIONS,
      durationSeconds,
      warmupSeconds,
      rounds: ROUNDS,
      onRun: (target, roundNumber, summary) => print(`   ${autocannonRow(`${ROUTE_NAMES[target]} #${roundNumber}`, summary)}`),
    })) as [RouteFigures, RouteFigures, RouteFigures];
    const throughput = pairOf(direct, proxied);
    const throughputClean = [direct, passThrough, proxied].every(allAnswered);
    print('\n   median');
    print(routeSummary('direct:      ', direct));
    print(routeSummary('pass-through:', passThrough));
    print(routeSummary('proxied:     ', proxied));
    const aim = throughput.throughputRatio >= THROUGHPUT_RATIO_AIM ? `meets the aim of ≥ ${THROUGHPUT_RATIO_AIM}` : `BELOW the aim of ≥ ${THROUGHPUT_RATIO_AIM}`;
    print(`   proxied ÷ direct: throughput ${round(throughput.throughputRatio, 2)} (${aim}), p99 ${round(throughput.p99Ratio, 2)}×`);
    print(`   pass-through ÷ direct ${round(passThrough.requestsPerSecond / direct.requestsPerSecond, 2)}; proxied ÷ pass-through ${round(proxied.requestsPerSecond / passThrough.requestsPerSecond, 2)}`);
    if (proxied.requestsPerSecond > 0.8 * integrationPace * INTEGRATIONS) print("   NOTE: within 20 % of the integrations' joint rate limit, which may have held the proxied runs back");
    print(`   every answer 200: ${passFail(throughputClean)}`);

    print('\n2. Latency without queueing: one request at a time, the routes in turn, each over one kept-alive connection');
    const targets = ROUTE_NAMES.map((name) => routes[name]);
    await load.sequence({ targets, durationSeconds: warmupSeconds });
    const sequence = await load.sequence({ targets, durationSeconds });
    const sequenceClean = Object.keys(sequence.statuses).every((status) => status === '200');
    const latency = sequence.latenciesMs.map(latencyFigures) as [LatencyFigures, LatencyFigures, LatencyFigures];
    print(`   ${count(latency[0].count)} requests per route in ${durationSeconds} s after a ${warmupSeconds} s warm-up`);
    for (const [index, name] of ROUTE_NAMES.entries()) print(`   ${`${name}:`.padEnd(14)}p50 ${exact(latency[index]!.p50)}, p99 ${exact(latency[index]!.p99)}`);
    print(`   Tokenkeeper adds ${exact(latency[2].p50 - latency[0].p50)} at p50, ${exact(latency[2].p99 - latency[0].p99)} at p99 (proxied − direct)`);
    print(`   every answer 200: ${passFail(sequenceClean)}${describeFailures(sequence)}`);

    print(`\n3. One integration alone: GET /v1/proxy/:id/items for one connection, ${CONNECTIONS} connections, one ${durationSeconds} s run after a ${warmupSeconds} s warm-up`);
    print(`   ${autocannonHeader()}`);
    const oneTarget = { url: routes.proxied.url, headers: routes.proxied.headers, connections: CONNECTIONS };
    // The warm-up empties the limiter's bucket (a twentieth of a second's budget), so the run measures its pace.
    await load.autocannon({ ...oneTarget, durationSeconds: warmupSeconds });
    const oneIntegration = await load.autocannon({ ...oneTarget, durationSeconds });
    print(`   ${autocannonRow('one integr.', oneIntegration)}`);
    print(`   its rate limiter paces it at ${requestsPerSecond(integrationPace)}; calls wait for a permit (up to 5 s, then 429 proxy_rate_limited)`);

    const result: ProxyBenchResult = {
      throughput,
      passThrough,
      latency: { direct: latency[0], passThrough: latency[1], proxied: latency[2] },
      oneIntegration,
      integrationPace,
      integrations: INTEGRATIONS,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      durationSeconds,
      bodyBytes: upstream.bodyBytes,
      machine,
      nodeVersion: process.version,
      loadAverage: { start: loadAtStart, end: loadavg()[0]! },
    };
    const passed = throughputClean && sequenceClean;
    const totalSeconds = round((performance.now() - startedAt) / 1000, 1);
    print(`\nREADME "Benchmarks" block:\n\n${proxyMarkdown(result, THROUGHPUT_RATIO_AIM)}\n`);
    print(`${passed ? 'All checks passed' : 'SOME CHECKS FAILED'} in ${totalSeconds} s.`);
    process.stdout.write(`${JSON.stringify({ bench: 'tokenkeeper-proxy', passed, ...proxyFigures(result), total_s: totalSeconds })}\n`);
    return passed ? 0 : 1;
  } finally {
    await load?.close();
    await service?.close();
    closePassThrough();
    await upstream?.close();
  }
}

/**
 * INTEGRATIONS integrations of the sandbox provider whose API base URL is the upstream, created
 * over the API as an operator would, and one account connected to each through the sandbox's
 * OAuth flow. Returns the connection ids.
 */
async function connectThroughUpstream(service: BenchService, upstreamUrl: string): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 1; index <= INTEGRATIONS; index++) {
    const key = `proxy-bench-${index}`;
    const created = await fetch(`${service.url}/v1/integrations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        key,
        provider: 'sandbox',
        client_id: SANDBOX_DEFAULT_CLIENT.client_id,
        client_secret: SANDBOX_DEFAULT_CLIENT.client_secret,
        scopes: ['openid', 'offline_access', 'api'],
        settings: { issuer: service.sandbox.issuer, apiBaseUrl: upstreamUrl, rateLimit: HIGHEST_RATE_LIMIT },
      }),
    });
    if (created.status !== 201) throw new Error(`create integration ${key}: ${created.status} ${await created.text()}`);
    await created.body?.cancel();
    ids.push(await service.connectAccount(`proxy-user-${index}`, key));
  }
  return ids;
}

/** One GET on every route before measuring: each 200, with the same body (passed on as it came). */
async function checkSameAnswer(targets: LoadTarget[]): Promise<void> {
  const answers = await Promise.all(
    targets.map(async (target) => {
      const response = await fetch(target.url, { headers: target.headers });
      return { status: response.status, body: await response.text() };
    }),
  );
  if (answers.some((answer) => answer.status !== 200 || answer.body !== answers[0]!.body)) {
    throw new Error(`the routes answer differently: ${answers.map((answer) => `${answer.status} ${answer.body.slice(0, 120)}`).join('; ')}`);
  }
}

function latencyFigures(samples: number[]): LatencyFigures {
  return { count: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

function allAnswered(route: RouteFigures): boolean {
  return route.non2xx === 0 && route.errors === 0 && route.timeouts === 0;
}

function describeFailures(sequence: SequenceSummary): string {
  if (sequence.sampleFailures.length === 0) return '';
  return ` (${JSON.stringify(sequence.statuses)}; e.g. ${sequence.sampleFailures.join('; ')})`;
}
