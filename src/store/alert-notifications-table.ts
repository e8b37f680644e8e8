import type { Database } from './database.ts';
import type { AlertNotificationsTable } from './schema.ts';

/** One row of the alert outbox / delivery log. */
export interface AlertNotificationRecord {
  id: string;
  notificationId: string;
  groupKey: string;
  channel: string;
  kind: AlertNotificationsTable['kind'];
  severity: AlertNotificationsTable['severity'];
  alertCount: number;
  payload: string;
  status: AlertNotificationsTable['status'];
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  sentAt: number | null;
  fallbackAt: number | null;
  error: string | null;
}

function recordOf(row: AlertNotificationsTable): AlertNotificationRecord {
  return {
    id: row.id,
    notificationId: row.notification_id,
    groupKey: row.group_key,
    channel: row.channel,
    kind: row.kind,
    severity: row.severity,
    alertCount: Number(row.alert_count),
    payload: row.payload,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    createdAt: Number(row.created_at),
    sentAt: row.sent_at === null ? null : Number(row.sent_at),
    fallbackAt: row.fallback_at === null ? null : Number(row.fallback_at),
    error: row.error,
  };
}

export type NewAlertNotification = Pick<
  AlertNotificationRecord,
  'id' | 'notificationId' | 'groupKey' | 'channel' | 'kind' | 'severity' | 'alertCount' | 'payload' | 'status' | 'createdAt'
>;

/** The row of a new notification: not attempted yet, due at its creation (`attempts` 0). */
function newRow(row: NewAlertNotification) {
  return {
    id: row.id,
    notification_id: row.notificationId,
    group_key: row.groupKey,
    channel: row.channel,
    kind: row.kind,
    severity: row.severity,
    alert_count: row.alertCount,
    payload: row.payload,
    status: row.status,
    attempts: 0,
    next_attempt_at: row.createdAt,
    claim_until: null,
    created_at: row.createdAt,
    sent_at: null as number | null,
    fallback_at: null,
    error: null as string | null,
  };
}

/** Writes notifications to the outbox (`pending`, due now) or the log (`silenced`, never sent). */
export async function insertAlertNotifications(db: Database, rows: NewAlertNotification[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('alert_notifications').values(rows.map(newRow)).execute();
}

/** Outbox rows of these channels due for an attempt: pending and due, or `sending` by a sender that died. */
export async function dueAlertNotifications(db: Database, channels: string[], now: number, limit = 50): Promise<AlertNotificationRecord[]> {
  if (channels.length === 0) return [];
  const rows = await db
    .selectFrom('alert_notifications')
    .selectAll()
    .where('channel', 'in', channels)
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', now)]),
        eb.and([eb('status', '=', 'sending'), eb('claim_until', '<', now)]),
      ]),
    )
    .orderBy('created_at')
    .limit(limit)
    .execute();
  return rows.map(recordOf);
}

/**
 * Claims one delivery attempt by compare-and-set on the attempt count, so two instances never
 * send the same row in the same attempt; the claim lapses at `claimUntil` if this one dies.
 */
export async function claimAlertNotification(db: Database, row: AlertNotificationRecord, now: number, claimUntil: number): Promise<boolean> {
  const result = await db
    .updateTable('alert_notifications')
    .set({ status: 'sending', attempts: row.attempts + 1, claim_until: claimUntil })
    .where('id', '=', row.id)
    .where('attempts', '=', row.attempts)
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', now)]),
        eb.and([eb('status', '=', 'sending'), eb('claim_until', '<', now)]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function markAlertNotificationSent(db: Database, id: string, now: number): Promise<void> {
  await db.updateTable('alert_notifications').set({ status: 'sent', sent_at: now, claim_until: null, error: null }).where('id', '=', id).execute();
}

/** A failed attempt: retried at `retryAt`, or `failed` for good when `retryAt` is null. */
export async function markAlertNotificationFailed(db: Database, id: string, error: string, retryAt: number | null, fallbackAt: number | null): Promise<void> {
  await db
    .updateTable('alert_notifications')
    .set({
      status: retryAt === null ? 'failed' : 'pending',
      next_attempt_at: retryAt ?? 0,
      claim_until: null,
      error: error.slice(0, 1000),
      ...(fallbackAt === null ? {} : { fallback_at: fallbackAt }),
    })
    .where('id', '=', id)
    .execute();
}

export interface AlertNotificationQuery {
  groupKey?: string;
  channel?: string;
  status?: AlertNotificationsTable['status'];
  since?: number;
  limit?: number;
}

/** The delivery log, oldest first. */
export async function listAlertNotifications(db: Database, query: AlertNotificationQuery = {}): Promise<AlertNotificationRecord[]> {
  let select = db.selectFrom('alert_notifications').selectAll();
  if (query.groupKey) select = select.where('group_key', '=', query.groupKey);
  if (query.channel) select = select.where('channel', '=', query.channel);
  if (query.status) select = select.where('status', '=', query.status);
  if (query.since !== undefined) select = select.where('created_at', '>=', query.since);
  const rows = await select.orderBy('created_at').orderBy('id').limit(query.limit ?? 1000).execute();
  return rows.map(recordOf);
}

/**
 * Records a delivery made outside the outbox (a test notification, `POST /v1/alerts/test`): one
 * attempt, already `sent` or `failed`, so the delivery log holds it and no sender picks it up.
 */
export async function insertDeliveredAlertNotification(
  db: Database,
  row: NewAlertNotification & { status: 'sent' | 'failed'; sentAt: number | null; error: string | null },
): Promise<void> {
  await db
    .insertInto('alert_notifications')
    .values({ ...newRow(row), attempts: 1, next_attempt_at: 0, sent_at: row.sentAt, error: row.error === null ? null : row.error.slice(0, 1000) })
    .execute();
}
