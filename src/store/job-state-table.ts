import type { Database } from './database.ts';

/**
 * Claims a scheduled job's tick with a conditional write, pg-boss style: no leader election,
 * every process may try, and the database lets one claim per interval succeed. A second
 * process (or a retried HTTP cron call) inside the same interval gets `false` and skips.
 */
export async function claimJobTick(db: Database, name: string, now: number, intervalMs: number): Promise<boolean> {
  await db
    .insertInto('job_state')
    .values({ name, last_started_at: null, last_finished_at: null, last_report: null })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  // A small tolerance so a timer that fires a few ms early still gets its tick.
  const threshold = now - intervalMs + Math.min(1000, intervalMs / 10);
  const result = await db
    .updateTable('job_state')
    .set({ last_started_at: now })
    .where('name', '=', name)
    .where((eb) => eb.or([eb('last_started_at', 'is', null), eb('last_started_at', '<=', threshold)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Records a completed run. An upsert: a job run only by the cron route or the CLI (no tick ever
 * claimed, so no row yet) still records when it completed, which `sweep_stalled` watches.
 */
export async function recordJobFinished(db: Database, name: string, now: number, report: unknown): Promise<void> {
  const lastReport = JSON.stringify(report);
  await db
    .insertInto('job_state')
    .values({ name, last_started_at: null, last_finished_at: now, last_report: lastReport })
    .onConflict((oc) => oc.column('name').doUpdateSet({ last_finished_at: now, last_report: lastReport }))
    .execute();
}

export async function listJobState(
  db: Database,
): Promise<{ name: string; lastStartedAt: number | null; lastFinishedAt: number | null; lastReport: unknown }[]> {
  const rows = await db.selectFrom('job_state').selectAll().orderBy('name').execute();
  return rows.map((row) => ({
    name: row.name,
    lastStartedAt: row.last_started_at === null ? null : Number(row.last_started_at),
    lastFinishedAt: row.last_finished_at === null ? null : Number(row.last_finished_at),
    lastReport: row.last_report ? (JSON.parse(row.last_report) as unknown) : null,
  }));
}
