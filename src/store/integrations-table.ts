import type { Database } from './database.ts';
import { parseJsonObject, parseJsonStrings } from './json.ts';
import type { IntegrationsTable } from './schema.ts';

export interface IntegrationRecord {
  id: string;
  key: string;
  provider: string;
  displayName: string | null;
  clientId: string;
  clientSecretSealed: string | null;
  scopes: string[];
  redirectUri: string | null;
  settings: Record<string, unknown>;
  refreshBufferSeconds: number;
  systemGrant: 'client_credentials' | null;
  systemScopes: string[] | null;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

function fromRow(row: IntegrationsTable): IntegrationRecord {
  return {
    id: row.id,
    key: row.key,
    provider: row.provider,
    displayName: row.display_name,
    clientId: row.client_id,
    clientSecretSealed: row.client_secret_sealed,
    scopes: parseJsonStrings(row.scopes) ?? [],
    redirectUri: row.redirect_uri,
    settings: parseJsonObject(row.settings),
    refreshBufferSeconds: Number(row.refresh_buffer_seconds),
    systemGrant: row.system_grant === 'client_credentials' ? 'client_credentials' : null,
    systemScopes: parseJsonStrings(row.system_scopes),
    enabled: Number(row.enabled) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toRow(record: IntegrationRecord): IntegrationsTable {
  return {
    id: record.id,
    key: record.key,
    provider: record.provider,
    display_name: record.displayName,
    client_id: record.clientId,
    client_secret_sealed: record.clientSecretSealed,
    scopes: JSON.stringify(record.scopes),
    redirect_uri: record.redirectUri,
    settings: JSON.stringify(record.settings),
    refresh_buffer_seconds: record.refreshBufferSeconds,
    system_grant: record.systemGrant,
    system_scopes: record.systemScopes === null ? null : JSON.stringify(record.systemScopes),
    enabled: record.enabled ? 1 : 0,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

export async function insertIntegration(db: Database, record: IntegrationRecord): Promise<void> {
  await db.insertInto('integrations').values(toRow(record)).execute();
}

/** Replaces every column but id and created_at. */
export async function updateIntegration(db: Database, record: IntegrationRecord): Promise<void> {
  const { id: _id, created_at: _created, ...rest } = toRow(record);
  await db.updateTable('integrations').set(rest).where('id', '=', record.id).execute();
}

export async function findIntegrationByKey(db: Database, key: string): Promise<IntegrationRecord | null> {
  const row = await db.selectFrom('integrations').selectAll().where('key', '=', key).executeTakeFirst();
  return row ? fromRow(row) : null;
}

export async function findIntegrationById(db: Database, id: string): Promise<IntegrationRecord | null> {
  const row = await db.selectFrom('integrations').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? fromRow(row) : null;
}

export async function listIntegrations(db: Database): Promise<IntegrationRecord[]> {
  const rows = await db.selectFrom('integrations').selectAll().orderBy('created_at').orderBy('key').execute();
  return rows.map(fromRow);
}

export async function deleteIntegration(db: Database, id: string): Promise<boolean> {
  const result = await db.deleteFrom('integrations').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function countConnectionsOfIntegration(db: Database, id: string): Promise<number> {
  const row = await db
    .selectFrom('connections')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('integration_id', '=', id)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

/** Every sealed client secret, for key rotation. */
export async function listSealedClientSecrets(db: Database): Promise<{ id: string; sealed: string }[]> {
  const rows = await db
    .selectFrom('integrations')
    .select(['id', 'client_secret_sealed'])
    .where('client_secret_sealed', 'is not', null)
    .execute();
  return rows.map((row) => ({ id: row.id, sealed: row.client_secret_sealed! }));
}

/** Compare-and-set so a rotation never overwrites a secret changed meanwhile. */
export async function replaceSealedClientSecret(db: Database, id: string, previous: string, next: string): Promise<boolean> {
  const result = await db
    .updateTable('integrations')
    .set({ client_secret_sealed: next })
    .where('id', '=', id)
    .where('client_secret_sealed', '=', previous)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
