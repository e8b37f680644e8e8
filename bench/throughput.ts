import type { AutocannonSummary } from './load-messages.ts';
import type { LoadClient } from './load-client.ts';
import { median } from './statistics.ts';

export interface ThroughputPlan {
  bareUrl: string;
  tokenUrl: string;
  /** Sent on both routes, so the requests differ only in what the server does with them. */
  headers: Record<string, string>;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  onRun?: (route: 'bare' | 'token', round: number, summary: AutocannonSummary) => void;
}

export interface RouteFigures {
  runs: AutocannonSummary[];
  /** Medians over the runs. */
  requestsPerSecond: number;
  latencyP50: number;
  latencyP99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface ThroughputResult {
  bare: RouteFigures;
  token: RouteFigures;
  /** token req/s ÷ bare req/s (higher is better; the aim is ≥ 0.8). */
  throughputRatio: number;
  /** token p99 ÷ bare p99 (lower is better). */
  p99Ratio: number;
}

/**
 * The token route against the bare route, measured the same way: both warmed up first (JIT,
 * caches, connection pools), then run alternately — bare, token, bare, token — so a slow
 * stretch of the machine (two cores shared with the load generator) hits both routes alike,
 * and the median of each route's runs is reported.
 */
export async function measureThroughput(load: LoadClient, plan: ThroughputPlan): Promise<ThroughputResult> {
  const run = (url: string, durationSeconds: number) =>
    load.autocannon({ url, headers: plan.headers, connections: plan.connections, durationSeconds });
  if (plan.warmupSeconds > 0) {
    await run(plan.bareUrl, plan.warmupSeconds);
    await run(plan.tokenUrl, plan.warmupSeconds);
  }
  const bareRuns: AutocannonSummary[] = [];
  const tokenRuns: AutocannonSummary[] = [];
  for (let round = 1; round <= plan.rounds; round++) {
    const bare = await run(plan.bareUrl, plan.durationSeconds);
    bareRuns.push(bare);
    plan.onRun?.('bare', round, bare);
    const token = await run(plan.tokenUrl, plan.durationSeconds);
    tokenRuns.push(token);
    plan.onRun?.('token', round, token);
  }
  const bare = routeFigures(bareRuns);
  const token = routeFigures(tokenRuns);
  return {
    bare,
    token,
    throughputRatio: token.requestsPerSecond / bare.requestsPerSecond,
    p99Ratio: token.latencyP99 / bare.latencyP99,
  };
}

/** Medians (and summed failures) of one route's runs. */
export function routeFigures(runs: AutocannonSummary[]): RouteFigures {
  const sum = (pick: (run: AutocannonSummary) => number) => runs.reduce((total, run) => total + pick(run), 0);
  return {
    runs,
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    latencyP50: median(runs.map((run) => run.latencyP50)),
    latencyP99: median(runs.map((run) => run.latencyP99)),
    non2xx: sum((run) => run.non2xx),
    errors: sum((run) => run.errors),
    timeouts: sum((run) => run.timeouts),
  };
}
