import type { Clock } from '../clock.ts';
import { deleteExpiredConnectSessions, type Database } from '../store/index.ts';
import type { JobReport } from './refresh-sweep.ts';

/** Deletes connect sessions a day past expiry (kept that long to answer "what happened to my link"). */
export async function runCleanup(deps: { db: Database; clock: Clock }): Promise<JobReport> {
  const startedAt = performance.now();
  const deleted = await deleteExpiredConnectSessions(deps.db, deps.clock.now() - 86_400_000);
  return { job: 'cleanup', checked: deleted, refreshed: 0, failed: 0, needs_reauth: 0, duration_ms: Math.round(performance.now() - startedAt) };
}
