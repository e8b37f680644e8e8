import type { AutocannonSummary } from './load-messages.ts';
import type { LoadClient } from './load-client.ts';
import { routeFigures, type RouteFigures } from './throughput.ts';

export interface ColdCachePlan {
  /** The service's origin, e.g. `http://127.0.0.1:41234`. */
  origin: string;
  /** The token path of one connection, which stays in the in-process cache. */
  cachedPath: string;
  /** Token paths of many connections, shuffled: walked in turn, so each is asked for once per pass. */
  coldPaths: string[];
  headers: Record<string, string>;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  onRun?: (route: 'cached' | 'cold', round: number, summary: AutocannonSummary) => void;
}

export interface ColdCacheResult {
  cached: RouteFigures;
  cold: RouteFigures;
  /** cold req/s ÷ cached req/s (the aim is ≥ 0.5). */
  throughputRatio: number;
  p99Ratio: number;
}

/**
 * The token route when the in-process cache cannot help: each request names the next of a
 * shuffled list of connections, so none is asked for again within the cache's one-second age
 * (a pass over 100,000 takes far longer than that) and every answer costs one read and one
 * decryption. Against the cached route of the same server, generated the same way (a path
 * list, of one path) so the load generator's extra work per request weighs on both alike; run
 * alternately after a warm-up, medians reported, like `measureThroughput`.
 */
export async function measureColdCache(load: LoadClient, plan: ColdCachePlan): Promise<ColdCacheResult> {
  const run = (paths: string[], durationSeconds: number) =>
    load.autocannon({ url: `${plan.origin}${paths[0]}`, paths, headers: plan.headers, connections: plan.connections, durationSeconds });
  const cachedPaths = [plan.cachedPath];
  if (plan.warmupSeconds > 0) {
    await run(cachedPaths, plan.warmupSeconds);
    await run(plan.coldPaths, plan.warmupSeconds);
  }
  const cachedRuns: AutocannonSummary[] = [];
  const coldRuns: AutocannonSummary[] = [];
  for (let round = 1; round <= plan.rounds; round++) {
    const cached = await run(cachedPaths, plan.durationSeconds);
    cachedRuns.push(cached);
    plan.onRun?.('cached', round, cached);
    const cold = await run(plan.coldPaths, plan.durationSeconds);
    coldRuns.push(cold);
    plan.onRun?.('cold', round, cold);
  }
  const cached = routeFigures(cachedRuns);
  const cold = routeFigures(coldRuns);
  return { cached, cold, throughputRatio: cold.requestsPerSecond / cached.requestsPerSecond, p99Ratio: cold.latencyP99 / cached.latencyP99 };
}

/** Fisher–Yates: the order the cold run asks for connections in. */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
