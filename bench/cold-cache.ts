import type { AutocannonSummary } from './load-messages.ts';
import type { LoadClient } from './load-client.ts';
import { measurePair, type RouteFigures } from './throughput.ts';

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
  const { origin, cachedPath, coldPaths, headers, onRun, ...shape } = plan;
  const pair = await measurePair(load, {
    ...shape,
    baseline: { url: `${origin}${cachedPath}`, paths: [cachedPath], headers },
    measured: { url: `${origin}${coldPaths[0]}`, paths: coldPaths, headers },
    onRun: onRun && ((route, round, summary) => onRun(route === 'baseline' ? 'cached' : 'cold', round, summary)),
  });
  return { cached: pair.baseline, cold: pair.measured, throughputRatio: pair.throughputRatio, p99Ratio: pair.p99Ratio };
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
