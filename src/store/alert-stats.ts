import { sql } from 'kysely';
import type { Database } from './database.ts';
import type { AlertNotificationsTable, AlertsTable } from './schema.ts';

const MINUTE_MS = 60_000;

/** Adds one to a per-minute counter (`alert_counts`, migration 0008); an upsert, so instances counting together add up. */
export async function countAlertHappening(db: Database, name: 'deduplicated', alertType: string, now: number): Promise<void> {
  await db
    .insertInto('alert_counts')
    .values({ name, bucket: Math.floor(now / MINUTE_MS) * MINUTE_MS, alert_type: alertType, count: 1 })
    .onConflict((oc) => oc.columns(['name', 'bucket', 'alert_type']).doUpdateSet({ count: sql<number>`alert_counts.count + 1` }))
    .execute();
}

/** Drops counter buckets that started before `before` (the cleanup job). */
export async function deleteAlertCountsBefore(db: Database, before: number): Promise<number> {
  const result = await db.deleteFrom('alert_counts').where('bucket', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The counter per alert type over the minutes that started at or after `since` (rounded down to its minute). */
export async function sumAlertCounts(db: Database, name: 'deduplicated', since: number): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('alert_counts')
    .select(['alert_type', (eb) => eb.fn.sum<number>('count').as('count')])
    .where('name', '=', name)
    .where('bucket', '>=', Math.floor(since / MINUTE_MS) * MINUTE_MS)
    .groupBy('alert_type')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.alert_type, Number(row.count)]));
}

/** Alerts that were firing at some time in [since, now]: firing now, or resolved at or after `since`; counted by type, severity and state. */
export async function countAlertsActiveSince(
  db: Database,
  since: number,
): Promise<{ type: string; severity: AlertsTable['severity']; state: AlertsTable['state']; firedInWindow: number; resolvedInWindow: number; count: number }[]> {
  const rows = await db
    .selectFrom('alerts')
    .select([
      'type',
      'severity',
      'state',
      (eb) => eb.fn.countAll<number>().as('count'),
      sql<number>`sum(case when first_seen_at >= ${since} then 1 else 0 end)`.as('fired'),
      sql<number>`sum(case when resolved_at >= ${since} then 1 else 0 end)`.as('resolved'),
    ])
    .where((eb) => eb.or([eb('state', '=', 'firing'), eb('resolved_at', '>=', since)]))
    .groupBy(['type', 'severity', 'state'])
    .execute();
  return rows.map((row) => ({
    type: row.type,
    severity: row.severity,
    state: row.state,
    count: Number(row.count),
    firedInWindow: Number(row.fired),
    resolvedInWindow: Number(row.resolved),
  }));
}

export interface NotificationCounts {
  channel: string;
  kind: AlertNotificationsTable['kind'];
  status: AlertNotificationsTable['status'];
  /** Rows (one notification to one channel). */
  rows: number;
  /** Failed attempts of the rows written in the window: every attempt of a failed or retrying row, all but the last of a sent one. */
  failedAttempts: number;
}

/** The delivery log written at or after `since`, counted by channel, kind and status. */
export async function countAlertNotificationsSince(db: Database, since: number): Promise<NotificationCounts[]> {
  const rows = await db
    .selectFrom('alert_notifications')
    .select([
      'channel',
      'kind',
      'status',
      (eb) => eb.fn.countAll<number>().as('rows'),
      // A `sending` row's current attempt has not failed (yet); a `sent` row's last one succeeded.
      sql<number>`sum(case when status in ('sent', 'sending') then attempts - 1 else attempts end)`.as('failed_attempts'),
    ])
    .where('created_at', '>=', since)
    .groupBy(['channel', 'kind', 'status'])
    .execute();
  return rows.map((row) => ({
    channel: row.channel,
    kind: row.kind,
    status: row.status,
    rows: Number(row.rows),
    failedAttempts: Math.max(0, Number(row.failed_attempts)),
  }));
}
