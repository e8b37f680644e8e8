import type { Database } from './database.ts';
import { parseJsonStrings } from './json.ts';
import type { AppWebhooksTable } from './schema.ts';

/** An endpoint of the application that receives events. */
export interface AppWebhookRecord {
  id: string;
  url: string;
  events: string[];
  /** The sealed `whsec_…` secret (associated data `app_webhooks:<id>:secret`). */
  secretSealed: string;
  source: AppWebhooksTable['source'];
  createdAt: number;
  updatedAt: number;
}

function recordOf(row: AppWebhooksTable): AppWebhookRecord {
  return {
    id: row.id,
    url: row.url,
    events: parseJsonStrings(row.events) ?? [],
    secretSealed: row.secret_sealed,
    source: row.source,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function rowOf(record: AppWebhookRecord): AppWebhooksTable {
  return {
    id: record.id,
    url: record.url,
    events: JSON.stringify(record.events),
    secret_sealed: record.secretSealed,
    source: record.source,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

export async function insertAppWebhook(db: Database, record: AppWebhookRecord): Promise<void> {
  await db.insertInto('app_webhooks').values(rowOf(record)).execute();
}

/**
 * The endpoint configured by the environment, under its fixed id: inserted, or brought up to
 * date. Instances starting together each write it; the primary key makes that one row.
 */
export async function upsertAppWebhook(db: Database, record: AppWebhookRecord): Promise<void> {
  const row = rowOf(record);
  await db
    .insertInto('app_webhooks')
    .values(row)
    .onConflict((oc) => oc.column('id').doUpdateSet({ url: row.url, events: row.events, secret_sealed: row.secret_sealed, updated_at: row.updated_at }))
    .execute();
}

export async function findAppWebhook(db: Database, id: string): Promise<AppWebhookRecord | null> {
  const row = await db.selectFrom('app_webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? recordOf(row) : null;
}

/** Oldest first. */
export async function listAppWebhooks(db: Database): Promise<AppWebhookRecord[]> {
  const rows = await db.selectFrom('app_webhooks').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(recordOf);
}

/** Deletes the endpoint; its deliveries go with it (foreign key, on delete cascade). */
export async function deleteAppWebhook(db: Database, id: string): Promise<boolean> {
  const remove = async (trx: Database): Promise<boolean> => {
    // Explicitly as well: a SQLite connection opened without `foreign_keys = ON` would keep them.
    await trx.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
    const result = await trx.deleteFrom('app_webhooks').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  };
  return db.isTransaction ? remove(db) : db.transaction().execute(remove);
}

/** Every sealed signing secret, for key rotation. */
export async function listSealedWebhookSecrets(db: Database): Promise<{ id: string; sealed: string }[]> {
  const rows = await db.selectFrom('app_webhooks').select(['id', 'secret_sealed']).execute();
  return rows.map((row) => ({ id: row.id, sealed: row.secret_sealed }));
}

/** Compare-and-set so a rotation never overwrites a secret changed meanwhile. */
export async function replaceSealedWebhookSecret(db: Database, id: string, previous: string, next: string): Promise<boolean> {
  const result = await db.updateTable('app_webhooks').set({ secret_sealed: next }).where('id', '=', id).where('secret_sealed', '=', previous).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
