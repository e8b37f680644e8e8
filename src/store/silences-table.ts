import type { Database } from './database.ts';
import type { SilencesTable } from './schema.ts';

/** `name` is `type`, `severity` or a label name; a silence matches an alert when every matcher equals. */
export interface SilenceMatcher {
  name: string;
  value: string;
}

export interface SilenceRecord {
  id: string;
  /** Empty: matches every alert ("silence everything until T"). */
  matchers: SilenceMatcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  createdAt: number;
  expiredAt: number | null;
}

function matchersOf(text: string): SilenceMatcher[] {
  try {
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) return [];
    return value.filter(
      (item): item is SilenceMatcher => !!item && typeof item === 'object' && typeof item.name === 'string' && typeof item.value === 'string',
    );
  } catch {
    return [];
  }
}

function recordOf(row: SilencesTable): SilenceRecord {
  return {
    id: row.id,
    matchers: matchersOf(row.matchers),
    startsAt: Number(row.starts_at),
    endsAt: Number(row.ends_at),
    createdBy: row.created_by,
    comment: row.comment,
    createdAt: Number(row.created_at),
    expiredAt: row.expired_at === null ? null : Number(row.expired_at),
  };
}

export async function insertSilence(db: Database, silence: Omit<SilenceRecord, 'expiredAt'>): Promise<SilenceRecord> {
  await db
    .insertInto('silences')
    .values({
      id: silence.id,
      matchers: JSON.stringify(silence.matchers),
      starts_at: silence.startsAt,
      ends_at: silence.endsAt,
      created_by: silence.createdBy,
      comment: silence.comment,
      created_at: silence.createdAt,
      expired_at: null,
    })
    .execute();
  return { ...silence, expiredAt: null };
}

/** Silences in force at `now`: started, not ended, not expired by hand. */
export async function activeSilences(db: Database, now: number): Promise<SilenceRecord[]> {
  const rows = await db
    .selectFrom('silences')
    .selectAll()
    .where('starts_at', '<=', now)
    .where('ends_at', '>', now)
    .where('expired_at', 'is', null)
    .orderBy('created_at')
    .execute();
  return rows.map(recordOf);
}

/** Every silence, newest first; with `activeAt`, only those in force or still to start then. */
export async function listSilences(db: Database, options: { activeAt?: number; limit?: number } = {}): Promise<SilenceRecord[]> {
  let select = db.selectFrom('silences').selectAll();
  if (options.activeAt !== undefined) select = select.where('ends_at', '>', options.activeAt).where('expired_at', 'is', null);
  const rows = await select.orderBy('created_at', 'desc').orderBy('id').limit(options.limit ?? 500).execute();
  return rows.map(recordOf);
}

export async function findSilence(db: Database, id: string): Promise<SilenceRecord | null> {
  const row = await db.selectFrom('silences').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? recordOf(row) : null;
}

/** Ends silences now, keeping them for history; returns how many were in force or pending. */
export async function expireSilenceRows(db: Database, ids: string[], now: number): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('silences')
    .set((eb) => ({
      expired_at: now,
      ends_at: eb.case().when('ends_at', '>', now).then(now).else(eb.ref('ends_at')).end(),
    }))
    .where('id', 'in', ids)
    .where('expired_at', 'is', null)
    .where('ends_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
