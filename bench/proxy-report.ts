import type { AutocannonSummary } from './load-messages.ts';
import { count, milliseconds, preciseMilliseconds as exact, requestsPerSecond } from './report.ts';
import { round } from './statistics.ts';
import type { PairResult, RouteFigures } from './throughput.ts';

/** The proxy benchmark's figures as the README and `--json` show them; no measuring here. */

/** One route's latencies when asked one request at a time, in milliseconds. */
export interface LatencyFigures {
  count: number;
  p50: number;
  p99: number;
}

export interface ProxyBenchResult {
  /** Instant upstream. Baseline: the GET sent directly; measured: the same GET through the proxy. */
  throughput: PairResult;
  /** Instant upstream: the same GET through the least a hop through the server can do (bench/pass-through-route.ts). */
  passThrough: RouteFigures;
  /** Instant upstream, one request at a time, the routes in turn. */
  latency: { direct: LatencyFigures; passThrough: LatencyFigures; proxied: LatencyFigures };
  /** The upstream answering after `delayMs`: direct against proxied, under load and one at a time. */
  delayed: {
    delayMs: number;
    throughput: PairResult;
    passThrough: RouteFigures;
    latency: { direct: LatencyFigures; passThrough: LatencyFigures; proxied: LatencyFigures };
  };
  /** The one-integration run. */
  oneIntegration: AutocannonSummary;
  /** Calls per second one integration's limiter allows at the highest `rateLimit`. */
  integrationPace: number;
  /** That highest `rateLimit`. */
  rateLimit: { requestsPerMinute: number; requestsPerSecond: number; concurrency: number };
  integrations: number;
  connections: number;
  rounds: number;
  durationSeconds: number;
  bodyBytes: number;
  machine: string;
  nodeVersion: string;
  /** One-minute load averages: the machine's other work weighs on every figure. */
  loadAverage: { start: number; end: number };
}

/**
 * The JSON keys the README's table names. The top-level route figures and ratios are the
 * instant upstream's (the CPU-bound worst case); `delayed_upstream` holds the same figures with
 * the upstream answering after `delay_ms`.
 */
export function proxyFigures(result: ProxyBenchResult): Record<string, unknown> {
  const { throughput, passThrough, latency, oneIntegration, delayed } = result;
  const route = (figures: RouteFigures) => ({
    rps: round(figures.requestsPerSecond),
    p50_ms: figures.latencyP50,
    p99_ms: figures.latencyP99,
    non2xx: figures.non2xx,
    errors: figures.errors + figures.timeouts,
    cpu_us_per_request: figures.cpuMicrosPerRequest === null ? null : round(figures.cpuMicrosPerRequest, 1),
  });
  const sequential = (figures: LatencyFigures) => ({ requests: figures.count, p50_ms: round(figures.p50, 3), p99_ms: round(figures.p99, 3) });
  return {
    node: result.nodeVersion,
    load_average: { start: round(result.loadAverage.start, 2), end: round(result.loadAverage.end, 2) },
    duration_s: result.durationSeconds,
    connections: result.connections,
    rounds: result.rounds,
    integrations: result.integrations,
    body_bytes: result.bodyBytes,
    direct: route(throughput.baseline),
    pass_through: route(passThrough),
    proxied: route(throughput.measured),
    throughput_ratio: round(throughput.throughputRatio, 3),
    p99_ratio: round(throughput.p99Ratio, 3),
    pass_through_ratio: round(passThrough.requestsPerSecond / throughput.baseline.requestsPerSecond, 3),
    proxied_to_pass_through_ratio: round(throughput.measured.requestsPerSecond / passThrough.requestsPerSecond, 3),
    added_latency: {
      p50_ms: round(latency.proxied.p50 - latency.direct.p50, 3),
      p99_ms: round(latency.proxied.p99 - latency.direct.p99, 3),
      direct: sequential(latency.direct),
      pass_through: sequential(latency.passThrough),
      proxied: sequential(latency.proxied),
    },
    delayed_upstream: {
      delay_ms: delayed.delayMs,
      direct: route(delayed.throughput.baseline),
      pass_through: route(delayed.passThrough),
      proxied: route(delayed.throughput.measured),
      throughput_ratio: round(delayed.throughput.throughputRatio, 3),
      p99_ratio: round(delayed.throughput.p99Ratio, 3),
      pass_through_ratio: round(delayed.passThrough.requestsPerSecond / delayed.throughput.baseline.requestsPerSecond, 3),
      added_latency: {
        p50_ms: round(delayed.latency.proxied.p50 - delayed.latency.direct.p50, 3),
        p99_ms: round(delayed.latency.proxied.p99 - delayed.latency.direct.p99, 3),
        direct: sequential(delayed.latency.direct),
        pass_through: sequential(delayed.latency.passThrough),
        proxied: sequential(delayed.latency.proxied),
      },
    },
    one_integration: {
      rps: round(oneIntegration.requestsPerSecond),
      pace_rps: round(result.integrationPace),
      p50_ms: oneIntegration.latencyP50,
      p99_ms: oneIntegration.latencyP99,
      non2xx: oneIntegration.non2xx,
    },
  };
}

/** The block meant for the README's "Proxy" subsection. */
export function proxyMarkdown(result: ProxyBenchResult, aim: number): string {
  const { throughput, passThrough, oneIntegration, delayed, latency } = result;
  const { baseline: direct, measured: proxied } = throughput;
  const slow = delayed.throughput;
  const verdict = (ratio: number) => (ratio >= aim ? `≥ ${aim}: met` : `≥ ${aim}: not met`);
  const micros = (figures: RouteFigures) => (figures.cpuMicrosPerRequest === null ? 'n/a' : `${count(figures.cpuMicrosPerRequest)} µs`);
  const paced = oneIntegration.requestsPerSecond >= 0.8 * result.integrationPace;
  const lines = [
    '| Proxy measurement | Figure | Detail | Aim |',
    '|---|---:|---|---|',
    `| **Upstream answering after ${delayed.delayMs} ms** (provider APIs take tens to hundreds) | | | |`,
    `| Proxied ÷ direct throughput — \`delayed_upstream.throughput_ratio\` | **${round(slow.throughputRatio, 2)}** | ${requestsPerSecond(slow.measured.requestsPerSecond)} through \`GET /v1/proxy/:id/items/delayed\` ÷ ${requestsPerSecond(slow.baseline.requestsPerSecond)} sent straight to the upstream, ${result.connections} connections | ${verdict(slow.throughputRatio)} |`,
    `| Proxied ÷ direct p99 — \`delayed_upstream.p99_ratio\` | **${round(slow.p99Ratio, 2)}×** | p99 ${milliseconds(slow.measured.latencyP99)} vs ${milliseconds(slow.baseline.latencyP99)} (pass-through ${milliseconds(delayed.passThrough.latencyP99)}); p50 ${milliseconds(slow.measured.latencyP50)} vs ${milliseconds(slow.baseline.latencyP50)} | |`,
    `| Latency Tokenkeeper adds at p50 — \`delayed_upstream.added_latency.p50_ms\` | **${exact(delayed.latency.proxied.p50 - delayed.latency.direct.p50)}** | one request at a time: proxied ${exact(delayed.latency.proxied.p50)} − direct ${exact(delayed.latency.direct.p50)} (pass-through ${exact(delayed.latency.passThrough.p50)}) | |`,
    `| … at p99 — \`delayed_upstream.added_latency.p99_ms\` | **${exact(delayed.latency.proxied.p99 - delayed.latency.direct.p99)}** | proxied ${exact(delayed.latency.proxied.p99)} − direct ${exact(delayed.latency.direct.p99)} (pass-through ${exact(delayed.latency.passThrough.p99)}); ${count(delayed.latency.direct.count)} requests per route | |`,
    '| **Upstream answering at once** (about 50 µs): the CPU-bound worst case | | | |',
    `| Proxied ÷ direct throughput — \`throughput_ratio\` | **${round(throughput.throughputRatio, 2)}** | ${requestsPerSecond(proxied.requestsPerSecond)} through \`GET /v1/proxy/:id/items\` ÷ ${requestsPerSecond(direct.requestsPerSecond)} sent straight to the upstream; ${result.bodyBytes} B JSON | ${verdict(throughput.throughputRatio)} |`,
    `| Proxied ÷ direct p99 — \`p99_ratio\` | **${round(throughput.p99Ratio, 2)}×** | p99 ${milliseconds(proxied.latencyP99)} vs ${milliseconds(direct.latencyP99)}; p50 ${milliseconds(proxied.latencyP50)} vs ${milliseconds(direct.latencyP50)} | |`,
    `| Proxied ÷ pass-through — \`proxied_to_pass_through_ratio\` | **${round(proxied.requestsPerSecond / passThrough.requestsPerSecond, 2)}** | the pass-through route (same server; forwards, streams back, nothing else) makes ${requestsPerSecond(passThrough.requestsPerSecond)}, ${round(passThrough.requestsPerSecond / direct.requestsPerSecond, 2)} of direct (\`pass_through_ratio\`): what the hop costs before Tokenkeeper does anything | |`,
    `| CPU per proxied call — \`proxied.cpu_us_per_request\` | **${micros(proxied)}** | the pass-through's ${micros(passThrough)} (\`pass_through.cpu_us_per_request\`); with the delayed upstream (${requestsPerSecond(slow.measured.requestsPerSecond)}, less work batched per wake-up) ${micros(slow.measured)} and ${micros(delayed.passThrough)} | |`,
    `| Latency Tokenkeeper adds at p50 — \`added_latency.p50_ms\` | **${exact(latency.proxied.p50 - latency.direct.p50)}** | one request at a time: proxied ${exact(latency.proxied.p50)} − direct ${exact(latency.direct.p50)} (pass-through ${exact(latency.passThrough.p50)}) | |`,
    `| … at p99 — \`added_latency.p99_ms\` | **${exact(latency.proxied.p99 - latency.direct.p99)}** | proxied ${exact(latency.proxied.p99)} − direct ${exact(latency.direct.p99)} (pass-through ${exact(latency.passThrough.p99)}); ${count(latency.direct.count)} requests per route | |`,
    `| One integration alone — \`one_integration.rps\` | **${requestsPerSecond(oneIntegration.requestsPerSecond)}** | its rate limiter at the highest \`rateLimit\` allowed (${count(result.rateLimit.requestsPerMinute)}/min, ${count(result.rateLimit.requestsPerSecond)}/s) paces it at ${requestsPerSecond(result.integrationPace)}; p99 ${milliseconds(oneIntegration.latencyP99)}${paced ? ', mostly waiting for a permit' : ": below that pace, so the proxy's own work, not the limit, held it here"} | |`,
    '',
    `<sub>\`npm run bench -- --proxy\` on ${result.machine}, Node ${result.nodeVersion}, load average ${round(result.loadAverage.start, 1)} at the start and ${round(result.loadAverage.end, 1)} at the end: Tokenkeeper (SQLite, the sandbox provider) in one process, the upstream API (node:http, kept-alive connections; the ${delayed.delayMs} ms wait is a timer in its process) in a second, the load generator in a third, on the same machine. Throughput: autocannon, ${result.connections} connections, median of ${result.rounds} alternating ${result.durationSeconds} s runs per route after a warm-up; proxied calls spread over ${result.integrations} integrations (one connection each) so that their rate limiters stay out of the way. Added latency: one request at a time for ${result.durationSeconds} s (${result.durationSeconds * 3} s with the delayed upstream), the routes in turn, each over its own kept-alive connection; the percentiles of each route subtracted. CPU: user + system time of Tokenkeeper's process over each run ÷ requests answered.</sub>`,
  ];
  return lines.join('\n');
}
