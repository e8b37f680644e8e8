import type { Clock } from '../clock.ts';
import { deleteAlertCountsBefore, deleteExpiredActionExecutions, deleteExpiredConnectSessions, deleteOldAppEvents, deleteOldWebhookDeliveries, type Database } from '../store/index.ts';
import type { JobReport } from './refresh-sweep.ts';

/** Deletes connect sessions a day past expiry (kept that long to answer "what happened to my link"). */
export async function runCleanup(deps: { db: Database; clock: Clock }): Promise<JobReport> {
  const startedAt = performance.now();
  const deleted = await deleteExpiredConnectSessions(deps.db, deps.clock.now() - 86_400_000);
  // The alert stats look back 30 days at most.
  await deleteAlertCountsBefore(deps.db, deps.clock.now() - 31 * 86_400_000);
  // Application webhooks: delivered rows are kept a week and failed ones 30 days (for the
  // delivery log and redelivery), then their events once no delivery refers to them.
  await deleteOldWebhookDeliveries(deps.db, { delivered: deps.clock.now() - 7 * 86_400_000, failed: deps.clock.now() - 30 * 86_400_000 });
  await deleteOldAppEvents(deps.db, deps.clock.now() - 7 * 86_400_000);
  // Actions' stored answers live 24 h (their Idempotency-Keys); an expired one is already ignored.
  await deleteExpiredActionExecutions(deps.db, deps.clock.now());
  return { job: 'cleanup', checked: deleted, refreshed: 0, failed: 0, needs_reauth: 0, duration_ms: Math.round(performance.now() - startedAt) };
}
