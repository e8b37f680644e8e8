import { sql } from 'kysely';
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
  /** The kill switch for actions (`actions_enabled`): false turns every action of this integration off. */
  actionsEnabled: boolean;
  /** Since when the provider rejects the integration's own credentials; null when it does not. */
  failingSince: number | null;
  /** The provider's error code (`invalid_client`, `unauthorized_client`, `http_401` ...). */
  failureCode: string | null;
  /** The provider's description of that error. */
  failureMessage: string | null;
  createdAt: number;
  /** Strictly increasing per row: other processes compare it to tell that their copy is old. */
  updatedAt: number;
}

/** A new integration is healthy: the failure fields may be left out. */
export type NewIntegrationRecord = Omit<IntegrationRecord, 'failingSince' | 'failureCode' | 'failureMessage' | 'actionsEnabled'> &
  Partial<Pick<IntegrationRecord, 'failingSince' | 'failureCode' | 'failureMessage' | 'actionsEnabled'>>;

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
    actionsEnabled: Number(row.actions_enabled) === 1,
    failingSince: row.failing_since === null ? null : Number(row.failing_since),
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toRow(record: NewIntegrationRecord): IntegrationsTable {
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
    actions_enabled: record.actionsEnabled === false ? 0 : 1,
    failing_since: record.failingSince ?? null,
    failure_code: record.failureCode ?? null,
    failure_message: record.failureMessage ?? null,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

export async function insertIntegration(db: Database, record: NewIntegrationRecord): Promise<void> {
  await db.insertInto('integrations').values(toRow(record)).execute();
}

/**
 * Replaces every column but id and created_at, only if the row still has `expectedUpdatedAt`
 * (compare-and-set): an update computed from a copy that another writer changed meanwhile (an
 * operator's second PATCH, a refresh marking the integration failing) must be recomputed, not
 * silently overwrite that change. False when the row changed or is gone.
 */
export async function updateIntegration(db: Database, record: IntegrationRecord, expectedUpdatedAt: number): Promise<boolean> {
  const { id: _id, created_at: _created, ...rest } = toRow(record);
  const result = await db
    .updateTable('integrations')
    .set(rest)
    .where('id', '=', record.id)
    .where('updated_at', '=', expectedUpdatedAt)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * The next `updated_at` of a row: now, or one past the current value when the clock has not
 * moved past it. Two changes in one millisecond (or a clock that lags another process's) must
 * still give different values, or a process comparing them would keep its old copy.
 */
export function nextUpdatedAt(current: number, now: number): number {
  return now > current ? now : current + 1;
}

const bumpedUpdatedAt = (now: number) => sql<number>`(case when updated_at < ${now} then ${now} else updated_at + 1 end)`;

/**
 * The row's `updated_at`, or null when it is gone: the one cheap query a process runs to tell
 * whether its cached copy of an integration is still current.
 */
export async function findIntegrationUpdatedAt(db: Database, id: string): Promise<number | null> {
  const row = await db.selectFrom('integrations').select('updated_at').where('id', '=', id).executeTakeFirst();
  return row ? Number(row.updated_at) : null;
}

export interface IntegrationFailure {
  code: string;
  message: string;
  /** When the failure was seen. */
  at: number;
  /** The `updated_at` of the copy the failed call was made with; a newer row is not marked. */
  seenUpdatedAt?: number;
}

/**
 * Marks an integration failing. Conditional updates rather than read-then-write, because every
 * connection of a broken integration fails at about the same time, in every process:
 *
 * - `failing_since IS NULL` lets exactly one caller make the transition ('marked'), so the
 *   operator hears of it once and the first time is kept;
 * - `updated_at <= seenUpdatedAt` ignores a failure of a request sent with credentials the
 *   operator has replaced since (the fix must not be undone by the answer to the old secret);
 * - an integration already failing only takes the newest provider error ('updated').
 *
 * Each change bumps `updated_at`, which is what tells other processes to drop their copies.
 */
export async function markIntegrationFailing(
  db: Database,
  id: string,
  failure: IntegrationFailure,
): Promise<'marked' | 'updated' | 'unchanged' | 'not_found'> {
  let marking = db
    .updateTable('integrations')
    .set({ failing_since: failure.at, failure_code: failure.code, failure_message: failure.message, updated_at: bumpedUpdatedAt(failure.at) })
    .where('id', '=', id)
    .where('failing_since', 'is', null);
  if (failure.seenUpdatedAt !== undefined) marking = marking.where('updated_at', '<=', failure.seenUpdatedAt);
  if (Number((await marking.executeTakeFirst()).numUpdatedRows) > 0) return 'marked';

  const refreshed = await db
    .updateTable('integrations')
    .set({ failure_code: failure.code, failure_message: failure.message, updated_at: bumpedUpdatedAt(failure.at) })
    .where('id', '=', id)
    .where('failing_since', 'is not', null)
    .where((eb) => eb.or([eb('failure_code', '<>', failure.code), eb('failure_message', '<>', failure.message)]))
    .executeTakeFirst();
  if (Number(refreshed.numUpdatedRows) > 0) return 'updated';
  return (await findIntegrationUpdatedAt(db, id)) === null ? 'not_found' : 'unchanged';
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
