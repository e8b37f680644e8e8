import { sql } from 'kysely';
import type { Database } from './database.ts';
import { parseJsonObject } from './json.ts';
import type { AlertGroupsTable, AlertsTable } from './schema.ts';

/** An alert row as the alerts module sees it (times in epoch ms, labels parsed). */
export interface AlertRecord {
  id: string;
  type: string;
  key: string;
  severity: AlertsTable['severity'];
  labels: Record<string, string>;
  summary: string;
  groupKey: string;
  state: AlertsTable['state'];
  firstSeenAt: number;
  lastSeenAt: number;
  resolvedAt: number | null;
  lastNotifiedAt: number | null;
  notificationCount: number;
  escalated: boolean;
}

export interface AlertUpsert extends Pick<AlertRecord, 'type' | 'key' | 'severity' | 'labels' | 'summary' | 'groupKey'> {
  /** Used only if the row is new. */
  id: string;
  groupLabels: Record<string, string>;
  now: number;
  /** A group that does not exist yet is first flushed this long after `now`. */
  groupWaitMs: number;
}

function stringLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseJsonObject(text))) if (typeof value === 'string') out[name] = value;
  return out;
}

export function alertRecordOf(row: AlertsTable): AlertRecord {
  return {
    id: row.id,
    type: row.type,
    key: row.key,
    severity: row.severity,
    labels: stringLabels(row.labels),
    summary: row.summary,
    groupKey: row.group_key,
    state: row.state,
    firstSeenAt: Number(row.first_seen_at),
    lastSeenAt: Number(row.last_seen_at),
    resolvedAt: row.resolved_at === null ? null : Number(row.resolved_at),
    lastNotifiedAt: row.last_notified_at === null ? null : Number(row.last_notified_at),
    notificationCount: Number(row.notification_count),
    escalated: Number(row.escalated) === 1,
  };
}

/**
 * Raises an alert: one statement that inserts it or, on the (type, key) unique constraint,
 * updates it (`INSERT … ON CONFLICT DO UPDATE` on both dialects), so instances raising the same
 * alert together leave one row. A resolved alert raised again fires anew (first seen now, not
 * escalated); an escalated one keeps HIGH while it fires. Its notification group is created if
 * it has none (first flushed after group_wait); an existing group keeps its schedule.
 */
export async function upsertAlert(db: Database, alert: AlertUpsert): Promise<AlertRecord> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('alerts')
      .values({
        id: alert.id,
        type: alert.type,
        key: alert.key,
        severity: alert.severity,
        labels: JSON.stringify(alert.labels),
        summary: alert.summary,
        group_key: alert.groupKey,
        state: 'firing',
        first_seen_at: alert.now,
        last_seen_at: alert.now,
        resolved_at: null,
        last_notified_at: null,
        notification_count: 0,
        escalated: 0,
      })
      .onConflict((oc) =>
        oc.columns(['type', 'key']).doUpdateSet({
          severity: sql<AlertsTable['severity']>`case when alerts.state = 'firing' and alerts.escalated = 1 then 'HIGH' else excluded.severity end`,
          labels: sql<string>`excluded.labels`,
          summary: sql<string>`excluded.summary`,
          group_key: sql<string>`excluded.group_key`,
          state: 'firing',
          first_seen_at: sql<number>`case when alerts.state = 'resolved' then excluded.first_seen_at else alerts.first_seen_at end`,
          last_seen_at: sql<number>`excluded.last_seen_at`,
          resolved_at: null,
          escalated: sql<number>`case when alerts.state = 'resolved' then 0 else alerts.escalated end`,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('alert_groups')
      .values({
        group_key: alert.groupKey,
        labels: JSON.stringify(alert.groupLabels),
        created_at: alert.now,
        next_flush_at: alert.now + alert.groupWaitMs,
        last_flush_at: null,
        notified: '{}',
        version: 0,
      })
      .onConflict((oc) => oc.column('group_key').doNothing())
      .execute();
    return alertRecordOf(row);
  });
}

/** Resolves a firing alert; false if there was none firing under (type, key). */
export async function resolveAlertRow(db: Database, type: string, key: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('alerts')
    .set({ state: 'resolved', resolved_at: now })
    .where('type', '=', type)
    .where('key', '=', key)
    .where('state', '=', 'firing')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** MEDIUM alerts firing since `firstSeenBefore` or earlier become HIGH (idempotent). */
export async function escalateAlerts(db: Database, firstSeenBefore: number): Promise<number> {
  const result = await db
    .updateTable('alerts')
    .set({ severity: 'HIGH', escalated: 1 })
    .where('state', '=', 'firing')
    .where('severity', '=', 'MEDIUM')
    .where('first_seen_at', '<=', firstSeenBefore)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export interface AlertQuery {
  state?: AlertsTable['state'];
  severity?: AlertsTable['severity'];
  type?: string;
  /** Active at or after this time: firing, or last seen or resolved at or after it. */
  since?: number;
  limit?: number;
}

export async function listAlertRows(db: Database, query: AlertQuery = {}): Promise<AlertRecord[]> {
  let select = db.selectFrom('alerts').selectAll();
  if (query.state) select = select.where('state', '=', query.state);
  if (query.severity) select = select.where('severity', '=', query.severity);
  if (query.type) select = select.where('type', '=', query.type);
  if (query.since !== undefined) {
    const since = query.since;
    select = select.where((eb) => eb.or([eb('state', '=', 'firing'), eb('last_seen_at', '>=', since), eb('resolved_at', '>=', since)]));
  }
  const rows = await select.orderBy('last_seen_at', 'desc').orderBy('id').limit(query.limit ?? 500).execute();
  return rows.map(alertRecordOf);
}

export async function findAlertRow(db: Database, type: string, key: string): Promise<AlertRecord | null> {
  const row = await db.selectFrom('alerts').selectAll().where('type', '=', type).where('key', '=', key).executeTakeFirst();
  return row ? alertRecordOf(row) : null;
}

/** Every alert of a group that is firing, or resolved since `resolvedSince` (for resolution notices). */
export async function alertsOfGroup(db: Database, groupKey: string, resolvedSince: number): Promise<AlertRecord[]> {
  const rows = await db
    .selectFrom('alerts')
    .selectAll()
    .where('group_key', '=', groupKey)
    .where((eb) => eb.or([eb('state', '=', 'firing'), eb('resolved_at', '>=', resolvedSince)]))
    .orderBy('first_seen_at')
    .orderBy('key')
    .execute();
  return rows.map(alertRecordOf);
}

/** Counts a notification against the alerts it carried. */
export async function markAlertsNotified(db: Database, ids: string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('alerts')
    .set((eb) => ({ last_notified_at: now, notification_count: eb('notification_count', '+', 1) }))
    .where('id', 'in', ids)
    .execute();
}

export interface AlertGroupRecord {
  groupKey: string;
  labels: Record<string, string>;
  createdAt: number;
  nextFlushAt: number;
  lastFlushAt: number | null;
  notified: Record<string, unknown>;
  version: number;
}

function groupRecordOf(row: AlertGroupsTable): AlertGroupRecord {
  return {
    groupKey: row.group_key,
    labels: stringLabels(row.labels),
    createdAt: Number(row.created_at),
    nextFlushAt: Number(row.next_flush_at),
    lastFlushAt: row.last_flush_at === null ? null : Number(row.last_flush_at),
    notified: parseJsonObject(row.notified),
    version: Number(row.version),
  };
}

/**
 * Groups of firing alerts that have no group row (a raise that raced the deletion of its idle
 * group): created with a fresh group_wait. Harmless when run twice.
 */
export async function ensureGroupsOfFiringAlerts(db: Database, now: number, groupWaitMs: number): Promise<void> {
  const orphans = await db
    .selectFrom('alerts')
    .select(['group_key', 'labels', 'type'])
    .where('state', '=', 'firing')
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('alert_groups').select('alert_groups.group_key').whereRef('alert_groups.group_key', '=', 'alerts.group_key'))),
    )
    .execute();
  for (const orphan of orphans) {
    await db
      .insertInto('alert_groups')
      .values({ group_key: orphan.group_key, labels: '{}', created_at: now, next_flush_at: now + groupWaitMs, last_flush_at: null, notified: '{}', version: 0 })
      .onConflict((oc) => oc.column('group_key').doNothing())
      .execute();
  }
}

export async function dueAlertGroups(db: Database, now: number, limit = 100): Promise<AlertGroupRecord[]> {
  const rows = await db.selectFrom('alert_groups').selectAll().where('next_flush_at', '<=', now).orderBy('next_flush_at').limit(limit).execute();
  return rows.map(groupRecordOf);
}

/**
 * Claims a due group's flush by compare-and-set: only the instance whose update matched the
 * version it read flushes it; the group's next flush moves to `nextFlushAt` in the same
 * statement. Run it first in the flush's transaction (on SQLite it then takes the write lock
 * before any read).
 */
export async function claimAlertGroup(db: Database, group: AlertGroupRecord, now: number, nextFlushAt: number): Promise<boolean> {
  const result = await db
    .updateTable('alert_groups')
    .set({ version: group.version + 1, next_flush_at: nextFlushAt, last_flush_at: now })
    .where('group_key', '=', group.groupKey)
    .where('version', '=', group.version)
    .where('next_flush_at', '<=', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function saveAlertGroupMemory(db: Database, groupKey: string, notified: Record<string, unknown>): Promise<void> {
  await db.updateTable('alert_groups').set({ notified: JSON.stringify(notified) }).where('group_key', '=', groupKey).execute();
}

/** Drops a group with no firing alert left (its resolution has been notified). */
export async function deleteIdleAlertGroup(db: Database, groupKey: string): Promise<void> {
  await db
    .deleteFrom('alert_groups')
    .where('group_key', '=', groupKey)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('alerts').select('alerts.id').where('alerts.group_key', '=', groupKey).where('alerts.state', '=', 'firing'))),
    )
    .execute();
}
