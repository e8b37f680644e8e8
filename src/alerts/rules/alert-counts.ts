import type { Database } from '../../store/index.ts';

/**
 * Counts for `/metrics`, read from the tables every instance shares at scrape time: they outlive
 * restarts and are the same on every instance (aggregate them with `max`, not `sum`).
 */

/** Firing alerts by type and severity. */
export async function countFiringAlerts(db: Database): Promise<{ type: string; severity: string; count: number }[]> {
  const rows = await db
    .selectFrom('alerts')
    .select(['type', 'severity', (eb) => eb.fn.countAll<number | string>().as('count')])
    .where('state', '=', 'firing')
    .groupBy(['type', 'severity'])
    .execute();
  return rows.map((row) => ({ type: row.type, severity: row.severity, count: Number(row.count) }));
}

/**
 * Notifications in the delivery log by channel and status: `sent`, `failed` (given up after the
 * retries), `silenced` (recorded, never sent) only ever grow; `pending` (including `sending`) is
 * the outbox waiting for a first or next attempt.
 */
export async function countAlertNotifications(db: Database): Promise<{ channel: string; status: 'sent' | 'failed' | 'silenced' | 'pending'; count: number }[]> {
  const rows = await db
    .selectFrom('alert_notifications')
    .select(['channel', 'status', (eb) => eb.fn.countAll<number | string>().as('count')])
    .groupBy(['channel', 'status'])
    .execute();
  const counts = new Map<string, { channel: string; status: 'sent' | 'failed' | 'silenced' | 'pending'; count: number }>();
  for (const row of rows) {
    const status = row.status === 'sending' ? 'pending' : row.status;
    const key = `${row.channel}\u0000${status}`;
    const entry = counts.get(key) ?? { channel: row.channel, status, count: 0 };
    entry.count += Number(row.count);
    counts.set(key, entry);
  }
  return [...counts.values()];
}
