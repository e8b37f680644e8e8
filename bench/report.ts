import { arch, cpus, platform } from 'node:os';
import type { AutocannonSummary } from './load-messages.ts';
import type { ExpiredBurstResult } from './expired-burst.ts';
import type { RouteFigures, ThroughputResult } from './throughput.ts';
import { round } from './statistics.ts';

/** Formatting of the benchmark's printed report; no measuring here. */

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** `2 cores (AMD EPYC …), linux x64`: the machine, for the report and the README's footnote. */
export function describeMachine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${platform()} ${arch()}`;
}

export function requestsPerSecond(value: number): string {
  return `${integer.format(value)} req/s`;
}

export function milliseconds(value: number): string {
  return value >= 100 ? `${integer.format(value)} ms` : `${round(value, 1)} ms`;
}

/** Sub-millisecond figures (one request at a time) keep two decimals. */
export function preciseMilliseconds(value: number): string {
  return `${round(value, 2)} ms`;
}

export function count(value: number): string {
  return integer.format(value);
}

export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
}

export function autocannonRow(label: string, run: AutocannonSummary): string {
  return [
    pad(label, 12),
    pad(requestsPerSecond(run.requestsPerSecond), 14, 'right'),
    pad(milliseconds(run.latencyP50), 10, 'right'),
    pad(milliseconds(run.latencyP99), 10, 'right'),
    pad(milliseconds(run.latencyMax), 10, 'right'),
    pad(count(run.totalRequests), 10, 'right'),
    pad(count(run.non2xx), 8, 'right'),
    pad(count(run.errors + run.timeouts), 8, 'right'),
  ].join('  ');
}

export function autocannonHeader(): string {
  return [
    pad('run', 12),
    pad('throughput', 14, 'right'),
    pad('p50', 10, 'right'),
    pad('p99', 10, 'right'),
    pad('max', 10, 'right'),
    pad('requests', 10, 'right'),
    pad('non-2xx', 8, 'right'),
    pad('errors', 8, 'right'),
  ].join('  ');
}

/** One route's medians on one line: `   bare:  47,115 req/s, p50 0 ms, p99 2 ms; non-2xx 0, …`. */
export function routeSummary(label: string, figures: RouteFigures): string {
  return `   ${label} ${requestsPerSecond(figures.requestsPerSecond)}, p50 ${milliseconds(figures.latencyP50)}, p99 ${milliseconds(figures.latencyP99)}; non-2xx ${figures.non2xx}, errors ${figures.errors}, timeouts ${figures.timeouts}`;
}

export function passFail(passed: boolean): string {
  return passed ? 'PASS' : 'FAIL';
}

export interface MarkdownInput {
  throughput: ThroughputResult;
  bodyBytes: number;
  connections: number;
  durationSeconds: number;
  rounds: number;
  bursts: ExpiredBurstResult[];
  machine: string;
  nodeVersion: string;
}

/** The block meant for the README's "Benchmarks" section. */
export function markdownTable(input: MarkdownInput): string {
  const { throughput, bursts } = input;
  const route = (figures: ThroughputResult['bare']) =>
    `${requestsPerSecond(figures.requestsPerSecond)} | ${milliseconds(figures.latencyP50)} | ${milliseconds(figures.latencyP99)}`;
  const lines = [
    '| Measurement | Throughput | p50 | p99 |',
    '|---|---:|---:|---:|',
    `| Bare Fastify route, same process, no auth, ${input.bodyBytes} B JSON | ${route(throughput.bare)} |`,
    `| \`GET /v1/connections/:id/token\`, valid token, API key | ${route(throughput.token)} |`,
    `| Token route ÷ bare route | **${round(throughput.throughputRatio, 2)}** (aim ≥ 0.8) | | ${round(throughput.p99Ratio, 2)}× |`,
    '',
    '| 1,000 concurrent token requests, one expired connection | Refresh calls to the provider | Answers | p50 wait | p99 wait | max wait |',
    '|---|---:|---|---:|---:|---:|',
    ...bursts.map(
      (burst) =>
        `| Sandbox token endpoint latency ${burst.providerLatencyMs} ms | **${burst.refreshCalls}** | ${count(burst.answered200)} × 200, ${burst.distinctTokens === 1 ? 'one token' : `${burst.distinctTokens} tokens`} | ${milliseconds(burst.waitP50)} | ${milliseconds(burst.waitP99)} | ${milliseconds(burst.waitMax)} |`,
    ),
    '',
    `<sub>\`npm run bench\` on ${input.machine}, Node ${input.nodeVersion}; SQLite (WAL), sandbox provider and load generator (autocannon, ${input.connections} connections, median of ${input.rounds} alternating ${input.durationSeconds} s runs per route after a warm-up; bursts over open keep-alive connections) on the same machine.</sub>`,
  ];
  return lines.join('\n');
}
