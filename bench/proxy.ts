/**
 * `npm run bench -- --proxy`: what the authenticated proxy (issue 9, docs/proxy.md) costs. A
 * local upstream API (bench/proxy-upstream.ts, a process of its own) stands in for a provider,
 * Tokenkeeper runs in this process (SQLite, the sandbox provider), the load comes from a third.
 * Two upstream routes, two regimes:
 *
 * - `GET /items` answers at once (in about 50 µs): the CPU-bound worst case, where the proxy's
 *   own work is all there is to measure and a second hop costs more than the upstream;
 * - `GET /items/delayed` answers the same bytes after UPSTREAM_DELAY_MS, on a timer in the
 *   upstream's process: the regime of real provider APIs, which answer in tens to hundreds of
 *   milliseconds, where callers wait on the provider rather than on the proxy.
 *
 *  1. Instant upstream, under load: GET /v1/proxy/:id/items through Tokenkeeper against the same
 *     GET sent straight to the upstream with the connection's token, and through a pass-through
 *     route of the same server (bench/pass-through-route.ts: the hop alone): autocannon, 50
 *     connections, alternating runs; proxied ÷ direct throughput (aim ≥ 0.7) and p99, proxied ÷
 *     pass-through, and the CPU this process spends per request on each route.
 *  2. Instant upstream, the latency Tokenkeeper adds at p50 and p99: one request at a time, the
 *     three routes in turn, each timed to the microsecond. Not taken from run 1: autocannon
 *     counts whole milliseconds, and with 50 connections in flight its latencies are mostly
 *     queueing.
 *  3. Delayed upstream: runs 1 and 2 again, at `/items/delayed`, with the same 50 connections.
 *  4. One integration alone under run 1's load: every proxied call takes a permit of its
 *     integration's rate limiter, and the highest `rateLimit` an integration may have paces it.
 *
 * Runs 1 to 3 spread their calls over 20 integrations of the sandbox provider (one connected
 * account each, all pointing `settings.apiBaseUrl` at the upstream, each at the highest
 * `rateLimit`), so that the limiters' joint pace stays far above what is measured on any
 * machine: the figure is the proxy's own work, the limiter's bookkeeping included, not the
 * limit. Run 4 shows the limit.
 */
import { loadavg } from 'node:os';
import { SANDBOX_DEFAULT_CLIENT } from '../src/sandbox/index.ts';
import { RATE_LIMIT_BOUNDS } from '../src/providers/index.ts';
import { bucketShapeOf } from '../src/tokens/rate-limiter.ts';
import { startBenchService, TOKEN_TTL_SECONDS, type BenchService } from './bench-service.ts';
import { fetchToken } from './expired-burst.ts';
import { LoadClient } from './load-client.ts';
import { addPassThroughRoute, PASS_THROUGH_PATH, PASS_THROUGH_PREFIX } from './pass-through-route.ts';
import type { LoadTarget, SequenceSummary } from './load-messages.ts';
import type { BenchOptions } from './options.ts';
import { proxyFigures, proxyMarkdown, type LatencyFigures, type ProxyBenchResult } from './proxy-report.ts';
import { autocannonHeader, autocannonRow, count, describeMachine, passFail, preciseMilliseconds as exact, requestsPerSecond, routeSummary } from './report.ts';
import { percentile, round } from './statistics.ts';
import { measureAlternating, pairOf, type PairResult, type RouteFigures } from './throughput.ts';
import { DELAYED_ITEMS_PATH, startUpstreamProcess, type UpstreamProcess } from './upstream-process.ts';

/** In the order they run, and the order of every per-route list below. */
const ROUTE_NAMES = ['direct', 'pass-through', 'proxied'] as const;
type RouteName = (typeof ROUTE_NAMES)[number];
const CONNECTIONS = 50;
const ROUNDS = 3;
const INTEGRATIONS = 20;
const THROUGHPUT_RATIO_AIM = 0.7;
/**
 * How long `GET /items/delayed` takes to answer: the fast end of the tens to hundreds of
 * milliseconds provider APIs take, so the regime's figures err towards showing the proxy's cost
 * rather than hiding it behind a long wait.
 */
const UPSTREAM_DELAY_MS = 20;
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
    upstream = await startUpstreamProcess({ delayMs: UPSTREAM_DELAY_MS });
    const upstreamUrl = upstream.url;
    service = await startBenchService({
      // Each autocannon run ends by closing its connections with calls in flight, and each such
      // call is logged as a warning (502, the caller went away): thousands of lines, no news.
      env: { TOKENKEEPER_LOG_LEVEL: 'error' },
      extend: (app) => (closePassThrough = addPassThroughRoute(app, upstreamUrl, ['/items', DELAYED_ITEMS_PATH])),
    });
    load = new LoadClient();
    const connectionIds = await connectThroughUpstream(service, upstreamUrl);
    const accessTokens = await Promise.all(
      connectionIds.map(async (id) => (await fetchToken(`${service!.url}/v1/connections/${id}/token`, { authorization: `Bearer ${service!.apiKey}` })).access_token),
    );
    await upstream.accept(accessTokens);
    const tokenHeaders = { authorization: `Bearer ${accessTokens[0]}` };
    const apiKeyHeaders = { authorization: `Bearer ${service.apiKey}` };
    const proxied = (path: string): LoadTarget => {
      const paths = connectionIds.map((id) => `/v1/proxy/${id}${path}`);
      return { url: `${service!.url}${paths[0]}`, paths, headers: apiKeyHeaders };
    };
    const routes: Record<RouteName, LoadTarget> = {
      direct: { url: `${upstreamUrl}/items`, paths: ['/items'], headers: tokenHeaders },
      'pass-through': { url: `${service.url}${PASS_THROUGH_PATH}`, paths: [PASS_THROUGH_PATH], headers: tokenHeaders },
      proxied: proxied('/items'),
    };
    const delayedRoutes: Record<RouteName, LoadTarget> = {
      direct: { url: `${upstreamUrl}${DELAYED_ITEMS_PATH}`, paths: [DELAYED_ITEMS_PATH], headers: tokenHeaders },
      'pass-through': { url: `${service.url}${PASS_THROUGH_PREFIX}${DELAYED_ITEMS_PATH}`, paths: [`${PASS_THROUGH_PREFIX}${DELAYED_ITEMS_PATH}`], headers: tokenHeaders },
      proxied: proxied(DELAYED_ITEMS_PATH),
    };
    await checkSameAnswer([...Object.values(routes), ...Object.values(delayedRoutes)]);
    print(`Connected ${INTEGRATIONS} sandbox accounts through the OAuth flow, one per integration, each integration's settings.apiBaseUrl ${upstreamUrl}`);
    print(`  rateLimit ${JSON.stringify(HIGHEST_RATE_LIMIT)} (the highest allowed): each integration paced at ${requestsPerSecond(integrationPace)}, ${requestsPerSecond(integrationPace * INTEGRATIONS)} together`);
    print(`  access tokens live ${TOKEN_TTL_SECONDS} s (no refresh during the run); GET /items answers ${upstream.bodyBytes} B of JSON at once, GET ${DELAYED_ITEMS_PATH} the same bytes after ${UPSTREAM_DELAY_MS} ms`);
    print('  routes: direct = the GET at the upstream with the token; pass-through = the least a hop through the same server can do');
    print(`  (${PASS_THROUGH_PATH}: forward, stream back, nothing else); proxied = GET /v1/proxy/:id/<path> with the API key, the upstream checking the injected token`);
    print('  CPU = user + system time of this process (Tokenkeeper) per request answered\n');

    /** The three routes alternately under autocannon: figures, the ratio, and whether every answer came. */
    const underLoad = async (targetsOf: Record<RouteName, LoadTarget>) => {
      print(`   autocannon, ${CONNECTIONS} connections, ${durationSeconds} s per run, ${ROUNDS} alternating runs per route after a ${warmupSeconds} s warm-up of each; proxied calls over the ${INTEGRATIONS} connections in turn\n`);
      print(`   ${autocannonHeader()}`);
      const [direct, passThrough, proxiedFigures] = (await measureAlternating(load!, {
        targets: ROUTE_NAMES.map((name) => targetsOf[name]),
        connections: CONNECTIONS,
        durationSeconds,
        warmupSeconds,
        rounds: ROUNDS,
        onRun: (target, roundNumber, summary) => print(`   ${autocannonRow(`${ROUTE_NAMES[target]} #${roundNumber}`, summary)}`),
      })) as [RouteFigures, RouteFigures, RouteFigures];
      const pair = pairOf(direct, proxiedFigures);
      const clean = [direct, passThrough, proxiedFigures].every(allAnswered);
      print('\n   median');
      print(routeSummary('direct:      ', direct));
      print(`${routeSummary('pass-through:', passThrough)}; CPU ${cpu(passThrough)}`);
      print(`${routeSummary('proxied:     ', proxiedFigures)}; CPU ${cpu(proxiedFigures)}`);
      print(`   proxied ÷ direct: throughput ${round(pair.throughputRatio, 2)} (${aimWords(pair)}), p99 ${round(pair.p99Ratio, 2)}×`);
      print(`   pass-through ÷ direct ${round(passThrough.requestsPerSecond / direct.requestsPerSecond, 2)}; proxied ÷ pass-through ${round(proxiedFigures.requestsPerSecond / passThrough.requestsPerSecond, 2)}`);
      if (proxiedFigures.requestsPerSecond > 0.8 * integrationPace * INTEGRATIONS) print("   NOTE: within 20 % of the integrations' joint rate limit, which may have held the proxied runs back");
      print(`   every answer 200: ${passFail(clean)}`);
      return { pair, passThrough, clean };
    };
    /** One request at a time, the routes in turn: each route's latency percentiles and what the proxy adds. */
    const oneAtATime = async (targetsOf: Record<RouteName, LoadTarget>, seconds: number) => {
      const targets = ROUTE_NAMES.map((name) => targetsOf[name]);
      await load!.sequence({ targets, durationSeconds: warmupSeconds });
      const sequence = await load!.sequence({ targets, durationSeconds: seconds });
      const clean = allOk(sequence);
      const latency = sequence.latenciesMs.map(latencyFigures) as [LatencyFigures, LatencyFigures, LatencyFigures];
      print(`   ${count(latency[0].count)} requests per route in ${seconds} s after a ${warmupSeconds} s warm-up`);
      for (const [index, name] of ROUTE_NAMES.entries()) print(`   ${`${name}:`.padEnd(14)}p50 ${exact(latency[index]!.p50)}, p99 ${exact(latency[index]!.p99)}`);
      print(`   Tokenkeeper adds ${exact(latency[2].p50 - latency[0].p50)} at p50, ${exact(latency[2].p99 - latency[0].p99)} at p99 (proxied − direct)`);
      print(`   every answer 200: ${passFail(clean)}${describeFailures(sequence)}`);
      return { latency, clean };
    };

    print('1. Instant upstream (about 50 µs an answer): the CPU-bound worst case, throughput under load');
    const { pair: throughput, passThrough, clean: throughputClean } = await underLoad(routes);

    print('\n2. Instant upstream, latency without queueing: one request at a time, the routes in turn, each over one kept-alive connection');
    const { latency, clean: sequenceClean } = await oneAtATime(routes, durationSeconds);

    print(`\n3. Upstream answering after ${UPSTREAM_DELAY_MS} ms (GET ${DELAYED_ITEMS_PATH}): the regime of provider APIs, runs 1 and 2 again`);
    const { pair: delayedThroughput, passThrough: delayedPassThrough, clean: delayedClean } = await underLoad(delayedRoutes);
    // Each turn of the three routes takes over 60 ms here: three times as long for a p99 worth the name.
    print('   one request at a time, the routes in turn:');
    const { latency: delayedLatency, clean: delayedSequenceClean } = await oneAtATime(delayedRoutes, durationSeconds * 3);

    print(`\n4. One integration alone: GET /v1/proxy/:id/items for one connection, instant upstream, ${CONNECTIONS} connections, one ${durationSeconds} s run after a ${warmupSeconds} s warm-up`);
    print(`   ${autocannonHeader()}`);
    const oneTarget = { url: routes.proxied.url, headers: routes.proxied.headers, connections: CONNECTIONS };
    // The warm-up empties the limiter's bucket (a twentieth of a second's budget), so the run measures its pace.
    await load.autocannon({ ...oneTarget, durationSeconds: warmupSeconds });
    const oneIntegration = await load.autocannon({ ...oneTarget, durationSeconds });
    print(`   ${autocannonRow('one integr.', oneIntegration)}`);
    print(
      oneIntegration.requestsPerSecond >= 0.8 * integrationPace
        ? `   its rate limiter paces it at ${requestsPerSecond(integrationPace)}; calls wait for a permit (up to 5 s, then 429 proxy_rate_limited)`
        : `   below its rate limiter's pace of ${requestsPerSecond(integrationPace)}: the proxy's own work held it, not the limit`,
    );

    const result: ProxyBenchResult = {
      throughput,
      passThrough,
      latency: { direct: latency[0], passThrough: latency[1], proxied: latency[2] },
      delayed: {
        delayMs: UPSTREAM_DELAY_MS,
        throughput: delayedThroughput,
        passThrough: delayedPassThrough,
        latency: { direct: delayedLatency[0], passThrough: delayedLatency[1], proxied: delayedLatency[2] },
      },
      oneIntegration,
      integrationPace,
      rateLimit: HIGHEST_RATE_LIMIT,
      integrations: INTEGRATIONS,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      durationSeconds,
      bodyBytes: upstream.bodyBytes,
      machine,
      nodeVersion: process.version,
      loadAverage: { start: loadAtStart, end: loadavg()[0]! },
    };
    const passed = throughputClean && sequenceClean && delayedClean && delayedSequenceClean;
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

function aimWords(pair: PairResult): string {
  return pair.throughputRatio >= THROUGHPUT_RATIO_AIM ? `meets the aim of ≥ ${THROUGHPUT_RATIO_AIM}` : `BELOW the aim of ≥ ${THROUGHPUT_RATIO_AIM}`;
}

function cpu(route: RouteFigures): string {
  return route.cpuMicrosPerRequest === null ? 'not measured' : `${round(route.cpuMicrosPerRequest)} µs per request`;
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

function allOk(sequence: SequenceSummary): boolean {
  return Object.keys(sequence.statuses).every((status) => status === '200');
}

function allAnswered(route: RouteFigures): boolean {
  return route.non2xx === 0 && route.errors === 0 && route.timeouts === 0;
}

function describeFailures(sequence: SequenceSummary): string {
  if (sequence.sampleFailures.length === 0) return '';
  return ` (${JSON.stringify(sequence.statuses)}; e.g. ${sequence.sampleFailures.join('; ')})`;
}
