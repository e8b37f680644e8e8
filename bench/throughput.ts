import type { AutocannonSummary, LoadTarget } from './load-messages.ts';
import type { LoadClient } from './load-client.ts';
import { median } from './statistics.ts';

export interface PairResult {
  baseline: RouteFigures;
  measured: RouteFigures;
  /** measured req/s ÷ baseline req/s (higher is better). */
  throughputRatio: number;
  /** measured p99 ÷ baseline p99 (lower is better). */
  p99Ratio: number;
}

export interface AlternatingPlan {
  targets: LoadTarget[];
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  onRun?: (target: number, round: number, summary: AutocannonSummary) => void;
}

export interface PairPlan extends Omit<AlternatingPlan, 'targets' | 'onRun'> {
  /** What the other route is measured against (the bare route, the direct call). */
  baseline: LoadTarget;
  measured: LoadTarget;
  onRun?: (route: 'baseline' | 'measured', round: number, summary: AutocannonSummary) => void;
}

/**
 * Routes measured the same way: each warmed up first (JIT, caches, connection pools), then run
 * alternately — A, B, A, B — so a slow stretch of the machine (two cores shared with the load
 * generator) hits every route alike; the median of each route's runs is reported, in `targets`' order.
 */
export async function measureAlternating(load: LoadClient, plan: AlternatingPlan): Promise<RouteFigures[]> {
  const run = (target: LoadTarget, durationSeconds: number) => load.autocannon({ ...target, connections: plan.connections, durationSeconds });
  if (plan.warmupSeconds > 0) {
    for (const target of plan.targets) await run(target, plan.warmupSeconds);
  }
  const runs = plan.targets.map((): AutocannonSummary[] => []);
  const cpu = plan.targets.map((): number[] => []);
  for (let round = 1; round <= plan.rounds; round++) {
    for (const [index, target] of plan.targets.entries()) {
      const before = process.cpuUsage();
      const summary = await run(target, plan.durationSeconds);
      const used = process.cpuUsage(before);
      runs[index]!.push(summary);
      cpu[index]!.push((used.user + used.system) / Math.max(1, summary.totalRequests));
      plan.onRun?.(index, round, summary);
    }
  }
  return runs.map((routeRuns, index) => routeFigures(routeRuns, cpu[index]));
}

/** One route against a baseline (`measureAlternating`), as ratios. */
export async function measurePair(load: LoadClient, plan: PairPlan): Promise<PairResult> {
  const { baseline: baselineTarget, measured: measuredTarget, onRun, ...shape } = plan;
  const [baseline, measured] = (await measureAlternating(load, {
    ...shape,
    targets: [baselineTarget, measuredTarget],
    onRun: onRun && ((target, round, summary) => onRun(target === 0 ? 'baseline' : 'measured', round, summary)),
  })) as [RouteFigures, RouteFigures];
  return pairOf(baseline, measured);
}

export function pairOf(baseline: RouteFigures, measured: RouteFigures): PairResult {
  return {
    baseline,
    measured,
    throughputRatio: measured.requestsPerSecond / baseline.requestsPerSecond,
    p99Ratio: measured.latencyP99 / baseline.latencyP99,
  };
}

export interface ThroughputPlan extends Omit<PairPlan, 'baseline' | 'measured' | 'onRun'> {
  bareUrl: string;
  tokenUrl: string;
  /** Sent on both routes, so the requests differ only in what the server does with them. */
  headers: Record<string, string>;
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
  /**
   * CPU time (user + system) of this process per request answered, median over the runs, in
   * microseconds: the service's own work per request where the service runs in this process
   * (the load generator and the proxy's upstream are processes of their own), about 0 for a
   * route this process plays no part in. Null when not measured.
   */
  cpuMicrosPerRequest: number | null;
}

export interface ThroughputResult {
  bare: RouteFigures;
  token: RouteFigures;
  /** token req/s ÷ bare req/s (higher is better; the aim is ≥ 0.8). */
  throughputRatio: number;
  /** token p99 ÷ bare p99 (lower is better). */
  p99Ratio: number;
}

/** The token route against the bare route of the same server (`measurePair`). */
export async function measureThroughput(load: LoadClient, plan: ThroughputPlan): Promise<ThroughputResult> {
  const { bareUrl, tokenUrl, headers, onRun, ...shape } = plan;
  const pair = await measurePair(load, {
    ...shape,
    baseline: { url: bareUrl, headers },
    measured: { url: tokenUrl, headers },
    onRun: onRun && ((route, round, summary) => onRun(route === 'baseline' ? 'bare' : 'token', round, summary)),
  });
  return { bare: pair.baseline, token: pair.measured, throughputRatio: pair.throughputRatio, p99Ratio: pair.p99Ratio };
}

/** Medians (and summed failures) of one route's runs, and of this process's CPU per request in each when given. */
export function routeFigures(runs: AutocannonSummary[], cpuMicrosPerRequest?: number[]): RouteFigures {
  const sum = (pick: (run: AutocannonSummary) => number) => runs.reduce((total, run) => total + pick(run), 0);
  return {
    runs,
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    latencyP50: median(runs.map((run) => run.latencyP50)),
    latencyP99: median(runs.map((run) => run.latencyP99)),
    non2xx: sum((run) => run.non2xx),
    errors: sum((run) => run.errors),
    timeouts: sum((run) => run.timeouts),
    cpuMicrosPerRequest: cpuMicrosPerRequest && cpuMicrosPerRequest.length > 0 ? median(cpuMicrosPerRequest) : null,
  };
}
