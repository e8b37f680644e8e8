import { listJobState, type Database } from '../../store/index.ts';
import type { RaiseAlert } from '../alert-service.ts';
import { SWEEP_STALLED } from './built-in-alerts.ts';
import type { RuleFindings } from './reconcile-alerts.ts';

/** The job whose completions the rule watches (the refresh sweep's name in the job runner). */
export const SWEEP_JOB = 'refresh';

/**
 * `sweep_stalled` (HIGH): no completed refresh sweep for `stalledAfterMs`. "Completed" is the
 * job table's `last_finished_at`, written by every scheduler adapter when a sweep's run ends
 * without throwing: the in-process run, a cron call, and on PostgreSQL the claimed tick once it
 * has queued its work (the queued refreshes themselves are watched by `token_expired_while_active`:
 * tokens that expire unrefreshed). A sweep that throws, hangs, or is never scheduled leaves it
 * behind. Before any sweep has ever completed, the time is counted from `watchingSince` (when
 * this instance began watching), so a fresh installation gets its first sweep's chance.
 */
export async function findSweepStalled(
  db: Database,
  now: number,
  settings: { stalledAfterMs: number; sweepIntervalMs: number; watchingSince: number },
): Promise<RuleFindings> {
  const holding = new Map<string, RaiseAlert>();
  if (settings.stalledAfterMs > 0) {
    const state = (await listJobState(db)).find((job) => job.name === SWEEP_JOB);
    const lastFinishedAt = state?.lastFinishedAt ?? null;
    const since = lastFinishedAt ?? settings.watchingSince;
    if (now - since > settings.stalledAfterMs) holding.set(SWEEP_JOB, sweepStalledAlert(lastFinishedAt, since, settings.sweepIntervalMs));
  }
  return { type: SWEEP_STALLED, holding, complete: true };
}

export function sweepStalledAlert(lastFinishedAt: number | null, since: number, sweepIntervalMs: number): RaiseAlert {
  const expected = `expected every ${Math.round(sweepIntervalMs / 1000)} s`;
  return {
    type: SWEEP_STALLED,
    key: SWEEP_JOB,
    severity: 'HIGH',
    labels: { job: SWEEP_JOB },
    summary:
      lastFinishedAt === null
        ? `the refresh sweep has not completed since ${new Date(since).toISOString()} (${expected}): tokens are refreshed only when requested`
        : `the refresh sweep last completed at ${new Date(lastFinishedAt).toISOString()} (${expected}): tokens are refreshed only when requested`,
  };
}
