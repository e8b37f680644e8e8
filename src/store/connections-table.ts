import { sql } from 'kysely';
import type { Database } from './database.ts';
import { parseJsonObject, parseJsonStrings } from './json.ts';
import type { ConnectionStatus, ConnectionsTable } from './schema.ts';
import { checkStorableTimes } from './time-bounds.ts';

export type { ConnectionStatus };

export interface ConnectionRecord {
  id: string;
  integrationId: string;
  ownerId: string | null;
  kind: 'user' | 'system';
  status: ConnectionStatus;
  statusReason: string | null;
  accountId: string | null;
  accountLabel: string | null;
  tokensSealed: string | null;
  tokenType: string | null;
  scopes: string[] | null;
  expiresAt: number | null;
  issuedAt: number | null;
  lastRefreshAt: number | null;
  metadata: Record<string, unknown>;
  version: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  failureCount: number;
  nextAttemptAt: number | null;
  /** When a refresh request was sent whose answer has not been processed (see migration 0002). */
  unansweredRefreshAt: number | null;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  createdAt: number;
  updatedAt: number;
  /** When the connection entered its current status; kept by `updateConnectionFenced`. */
  statusChangedAt?: number;
  /** The first failed refresh since the last success (null while refreshes succeed); kept likewise. */
  failingSince?: number | null;
}

const nullableNumber = (value: number | null): number | null => (value === null ? null : Number(value));

export function connectionFromRow(row: ConnectionsTable): ConnectionRecord {
  return {
    id: row.id,
    integrationId: row.integration_id,
    ownerId: row.owner_id,
    kind: row.kind,
    status: row.status,
    statusReason: row.status_reason,
    accountId: row.account_id,
    accountLabel: row.account_label,
    tokensSealed: row.tokens_sealed,
    tokenType: row.token_type,
    scopes: parseJsonStrings(row.scopes),
    expiresAt: nullableNumber(row.expires_at),
    issuedAt: nullableNumber(row.issued_at),
    lastRefreshAt: nullableNumber(row.last_refresh_at),
    metadata: parseJsonObject(row.metadata),
    version: Number(row.version),
    leaseOwner: row.lease_owner,
    leaseUntil: nullableNumber(row.lease_until),
    failureCount: Number(row.failure_count),
    nextAttemptAt: nullableNumber(row.next_attempt_at),
    unansweredRefreshAt: nullableNumber(row.unanswered_refresh_at ?? null),
    lastErrorCode: row.last_error_code,
    lastErrorMessage: row.last_error_message,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    statusChangedAt: Number(row.status_changed_at ?? row.updated_at),
    failingSince: nullableNumber(row.failing_since ?? null),
  };
}

function toRow(record: ConnectionRecord): ConnectionsTable {
  return checkStorableTimes('connections', {
    id: record.id,
    integration_id: record.integrationId,
    owner_id: record.ownerId,
    kind: record.kind,
    status: record.status,
    status_reason: record.statusReason,
    account_id: record.accountId,
    account_label: record.accountLabel,
    tokens_sealed: record.tokensSealed,
    token_type: record.tokenType,
    scopes: record.scopes === null ? null : JSON.stringify(record.scopes),
    expires_at: record.expiresAt,
    issued_at: record.issuedAt,
    last_refresh_at: record.lastRefreshAt,
    metadata: JSON.stringify(record.metadata),
    version: record.version,
    lease_owner: record.leaseOwner,
    lease_until: record.leaseUntil,
    failure_count: record.failureCount,
    next_attempt_at: record.nextAttemptAt,
    unanswered_refresh_at: record.unansweredRefreshAt,
    last_error_code: record.lastErrorCode,
    last_error_message: record.lastErrorMessage,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    status_changed_at: record.statusChangedAt ?? record.createdAt,
    failing_since: record.failingSince ?? (record.failureCount > 0 ? record.updatedAt : null),
  });
}

export async function insertConnection(db: Database, record: ConnectionRecord): Promise<void> {
  await db.insertInto('connections').values(toRow(record)).execute();
}

export async function findConnection(db: Database, id: string): Promise<ConnectionRecord | null> {
  const row = await db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? connectionFromRow(row) : null;
}

/** The connection a reconnect should update: same integration, owner and provider account. */
export async function findConnectionByAccount(
  db: Database,
  integrationId: string,
  ownerId: string | null,
  accountId: string,
): Promise<ConnectionRecord | null> {
  let query = db
    .selectFrom('connections')
    .selectAll()
    .where('integration_id', '=', integrationId)
    .where('account_id', '=', accountId);
  query = ownerId === null ? query.where('owner_id', 'is', null).where('kind', '=', 'system') : query.where('owner_id', '=', ownerId);
  query = query.where('status', '<>', 'revoked');
  const row = await query.orderBy('created_at', 'desc').executeTakeFirst();
  return row ? connectionFromRow(row) : null;
}

/** The integration's live system connection (at most one: a unique index, migration 0002). */
export async function findSystemConnection(db: Database, integrationId: string): Promise<ConnectionRecord | null> {
  const row = await db
    .selectFrom('connections')
    .selectAll()
    .where('integration_id', '=', integrationId)
    .where('kind', '=', 'system')
    .where('status', '<>', 'revoked')
    .executeTakeFirst();
  return row ? connectionFromRow(row) : null;
}

export interface ConnectionFilter {
  integrationId?: string;
  ownerId?: string;
  kind?: 'user' | 'system';
  status?: ConnectionStatus;
  limit?: number;
  /** Keyset pagination: ids after this one (ids are random, so order is by creation then id). */
  after?: { createdAt: number; id: string };
}

export async function listConnections(db: Database, filter: ConnectionFilter = {}): Promise<ConnectionRecord[]> {
  let query = db.selectFrom('connections').selectAll();
  if (filter.integrationId) query = query.where('integration_id', '=', filter.integrationId);
  if (filter.ownerId !== undefined) query = query.where('owner_id', '=', filter.ownerId);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.after) {
    const { createdAt, id } = filter.after;
    query = query.where((eb) =>
      eb.or([eb('created_at', '>', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)])]),
    );
  }
  const rows = await query.orderBy('created_at').orderBy('id').limit(filter.limit ?? 100).execute();
  return rows.map(connectionFromRow);
}

export async function countConnectionsByStatus(db: Database): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('connections')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
}

/**
 * Takes the refresh lease by compare-and-set. Only one caller across all processes can move
 * `lease_until` from null/past to the future: the database serialises the UPDATEs, and the
 * second one finds the condition false and gets no row back. The returned version is the
 * fencing token the holder must present when it commits.
 */
export async function tryAcquireLease(
  db: Database,
  id: string,
  owner: string,
  now: number,
  leaseMs: number,
): Promise<ConnectionRecord | null> {
  const row = await db
    .updateTable('connections')
    .set({ lease_owner: owner, lease_until: now + leaseMs })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .returningAll()
    .executeTakeFirst();
  return row ? connectionFromRow(row) : null;
}

/**
 * Extends a lease we hold, by compare-and-set on the owner, before each provider call: the whole
 * holding time (rate-limiter wait, integration resolution, retries) must stay inside the lease,
 * or a second process could take it over and send the same refresh token (invariant 2). Returns
 * null when the lease is no longer ours (another process took it after it lapsed): the caller
 * must then not call the provider at all.
 *
 * `unansweredSince` records on the row, in the same statement, that a refresh request is about
 * to be sent: if this process dies before it processes the answer, the next holder knows. An
 * earlier mark (left by a holder that died) is kept.
 */
export async function extendLease(
  db: Database,
  id: string,
  owner: string,
  now: number,
  leaseMs: number,
  options: { unansweredSince?: number } = {},
): Promise<ConnectionRecord | null> {
  const set: Record<string, unknown> = { lease_until: now + leaseMs };
  // The earliest unanswered request is the one that matters: a later one must not hide it.
  if (options.unansweredSince !== undefined) set.unanswered_refresh_at = sql`coalesce(unanswered_refresh_at, ${options.unansweredSince})`;
  const row = await db
    .updateTable('connections')
    .set(set as never)
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .returningAll()
    .executeTakeFirst();
  return row ? connectionFromRow(row) : null;
}

/** Releases the lease only if we still hold it (an expired holder must not free someone else's). */
export async function releaseLease(db: Database, id: string, owner: string): Promise<void> {
  await releaseLeaseStatement(db, id, owner).execute();
}

/**
 * `releaseLease` as a statement not yet sent, returning the row when the lease was ours: for a
 * caller that sends it with its announcement in one round trip (change-feed.ts `writeRowAndNotify`).
 */
export function releaseLeaseStatement(db: Database, id: string, owner: string) {
  return db
    .updateTable('connections')
    .set({ lease_owner: null, lease_until: null })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .returningAll();
}

export type ConnectionPatch = Partial<
  Omit<ConnectionRecord, 'id' | 'integrationId' | 'kind' | 'createdAt' | 'version' | 'leaseOwner' | 'leaseUntil'>
>;

function patchToRow(patch: ConnectionPatch): Partial<ConnectionsTable> {
  const row: Partial<ConnectionsTable> = {};
  if (patch.ownerId !== undefined) row.owner_id = patch.ownerId;
  if (patch.status !== undefined) row.status = patch.status;
  if (patch.statusReason !== undefined) row.status_reason = patch.statusReason;
  if (patch.accountId !== undefined) row.account_id = patch.accountId;
  if (patch.accountLabel !== undefined) row.account_label = patch.accountLabel;
  if (patch.tokensSealed !== undefined) row.tokens_sealed = patch.tokensSealed;
  if (patch.tokenType !== undefined) row.token_type = patch.tokenType;
  if (patch.scopes !== undefined) row.scopes = patch.scopes === null ? null : JSON.stringify(patch.scopes);
  if (patch.expiresAt !== undefined) row.expires_at = patch.expiresAt;
  if (patch.issuedAt !== undefined) row.issued_at = patch.issuedAt;
  if (patch.lastRefreshAt !== undefined) row.last_refresh_at = patch.lastRefreshAt;
  if (patch.metadata !== undefined) row.metadata = JSON.stringify(patch.metadata);
  if (patch.failureCount !== undefined) row.failure_count = patch.failureCount;
  if (patch.nextAttemptAt !== undefined) row.next_attempt_at = patch.nextAttemptAt;
  if (patch.unansweredRefreshAt !== undefined) row.unanswered_refresh_at = patch.unansweredRefreshAt;
  if (patch.lastErrorCode !== undefined) row.last_error_code = patch.lastErrorCode;
  if (patch.lastErrorMessage !== undefined) row.last_error_message = patch.lastErrorMessage;
  if (patch.updatedAt !== undefined) row.updated_at = patch.updatedAt;
  return checkStorableTimes('connections', row);
}

/**
 * The columns that date the connection's state, computed in the UPDATE from the row's own values
 * (so a caller cannot forget them): `status_changed_at` moves only when the status really
 * changes; `failing_since` keeps the first failure of a run and clears with a success.
 */
function timelineOf(patch: ConnectionPatch): Record<string, unknown> {
  const at = patch.updatedAt !== undefined ? sql`${patch.updatedAt}` : sql`updated_at`;
  const set: Record<string, unknown> = {};
  if (patch.status !== undefined) {
    set.status_changed_at = sql`case when status = ${patch.status} then coalesce(status_changed_at, ${at}) else ${at} end`;
  }
  if (patch.failureCount !== undefined) {
    set.failing_since = patch.failureCount === 0 ? null : sql`coalesce(failing_since, ${at})`;
  }
  return set;
}

/**
 * Writes a patch fenced by the version column and bumps the version. `WHERE version = ?` is what
 * makes invariant 2 hold: a refresher whose lease expired while it waited on a slow provider
 * finds the version moved on (someone else refreshed) and its stale write matches no row.
 *
 * `leaseHolder`: the write is also fenced by the lease owner — only the process that holds the
 * lease may commit a refresh outcome — and releases the lease in the same statement. A holder
 * whose lease lapsed and was taken over matches no row even if the new holder has not written yet.
 *
 * Writes without a lease (a reconnect, an import) leave a held lease alone; they bump the version,
 * so the holder's later commit fails its fence and re-reads instead of overwriting them.
 */
export async function updateConnectionFenced(
  db: Database,
  id: string,
  expectedVersion: number,
  patch: ConnectionPatch,
  leaseHolder?: string,
): Promise<ConnectionRecord | null> {
  const row = await updateConnectionFencedStatement(db, id, expectedVersion, patch, leaseHolder).executeTakeFirst();
  return row ? connectionFromRow(row) : null;
}

/**
 * `updateConnectionFenced` as a statement not yet sent (its row, parsed by `connectionFromRow`,
 * or none when the fence failed): for a caller that sends it together with what commits with it
 * (change-feed.ts `writeRowAndNotify`).
 *
 * When it lands, the row is exactly the one read at `expectedVersion` with `patch` applied (and
 * the version bumped, the lease released, the timeline columns dated): every write that changes
 * what the API shows of a connection goes through here and bumps the version, and the others
 * (lease, unanswered mark, re-encryption) touch nothing the API shows. That is what lets a
 * caller build the events of the write before sending it (`fencedRecordAfter`).
 */
export function updateConnectionFencedStatement(db: Database, id: string, expectedVersion: number, patch: ConnectionPatch, leaseHolder?: string) {
  const set: Record<string, unknown> = { ...patchToRow(patch), ...timelineOf(patch), version: expectedVersion + 1 };
  let query = db.updateTable('connections').where('id', '=', id).where('version', '=', expectedVersion);
  if (leaseHolder !== undefined) {
    set.lease_owner = null;
    set.lease_until = null;
    query = query.where('lease_owner', '=', leaseHolder);
  }
  return query.set(set as never).returningAll();
}

/**
 * The row a fenced update of `read` with `patch` leaves when it lands, as far as the API shows it
 * (`updateConnectionFencedStatement`); the timeline columns it dates in SQL are left as read.
 */
export function fencedRecordAfter(read: ConnectionRecord, patch: ConnectionPatch, leaseHolder?: string): ConnectionRecord {
  const after: ConnectionRecord = { ...read, ...patch, version: read.version + 1 };
  if (leaseHolder !== undefined) {
    after.leaseOwner = null;
    after.leaseUntil = null;
  }
  return after;
}

export async function deleteConnection(db: Database, id: string): Promise<boolean> {
  const result = await db.deleteFrom('connections').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * Connections the proactive sweep should refresh now: active or degraded, whose remaining
 * lifetime is under max(effective buffer, 25 % of the lifetime the provider granted), where the
 * effective buffer is the integration's buffer capped at half that lifetime (a 300 s buffer on a
 * 120 s token would otherwise refresh it on every sweep). Mirrors `sweepThresholdMs` in
 * tokens/. Written with CASE so the same SQL runs on SQLite and PostgreSQL.
 */
export async function listDueForRefresh(db: Database, now: number, limit: number): Promise<{ id: string; integrationId: string }[]> {
  const lifetime = sql<number>`(c.expires_at - coalesce(c.issued_at, c.expires_at))`;
  const buffer = sql<number>`(i.refresh_buffer_seconds * 1000)`;
  const effectiveBuffer = sql<number>`(case when ${lifetime} > 0 and ${buffer} > ${lifetime} / 2 then ${lifetime} / 2 else ${buffer} end)`;
  const threshold = sql<number>`(case when ${effectiveBuffer} > ${lifetime} / 4 then ${effectiveBuffer} else ${lifetime} / 4 end)`;
  const rows = await db
    .selectFrom('connections as c')
    .innerJoin('integrations as i', 'i.id', 'c.integration_id')
    .select(['c.id as id', 'c.integration_id as integrationId'])
    .where('c.status', 'in', ['active', 'degraded'])
    .where('i.enabled', '=', 1)
    // An integration whose own credentials are refused waits for its operator (invariant 5).
    .where('i.failing_since', 'is', null)
    .where('c.expires_at', 'is not', null)
    .where((eb) => eb.or([eb('c.next_attempt_at', 'is', null), eb('c.next_attempt_at', '<=', now)]))
    .where(sql<boolean>`c.expires_at - ${now} < ${threshold}`)
    .orderBy('c.expires_at')
    .limit(limit)
    .execute();
  return rows;
}

/** Connections of the given integrations whose refresh token has not been used since `idleSince`. */
export async function listIdleSince(
  db: Database,
  integrations: { integrationId: string; idleSince: number }[],
  now: number,
  limit: number,
): Promise<{ id: string; integrationId: string }[]> {
  if (integrations.length === 0) return [];
  const rows = await db
    .selectFrom('connections as c')
    .select(['c.id as id', 'c.integration_id as integrationId'])
    .where('c.status', 'in', ['active', 'degraded'])
    .where((eb) => eb.or([eb('c.next_attempt_at', 'is', null), eb('c.next_attempt_at', '<=', now)]))
    .where((eb) =>
      eb.or(
        integrations.map(({ integrationId, idleSince }) =>
          eb.and([
            eb('c.integration_id', '=', integrationId),
            eb(sql`coalesce(c.last_refresh_at, c.created_at)`, '<', idleSince),
          ]),
        ),
      ),
    )
    .limit(limit)
    .execute();
  return rows;
}

export async function listSealedTokens(db: Database, afterId: string | null, limit: number): Promise<{ id: string; sealed: string }[]> {
  let query = db.selectFrom('connections').select(['id', 'tokens_sealed']).where('tokens_sealed', 'is not', null);
  if (afterId) query = query.where('id', '>', afterId);
  const rows = await query.orderBy('id').limit(limit).execute();
  return rows.map((row) => ({ id: row.id, sealed: row.tokens_sealed! }));
}

/**
 * Re-encryption during key rotation: only replaces the ciphertext it read (compare-and-set), so a
 * refresh that committed a new token set meanwhile is never overwritten with an older one.
 * The version is not bumped: the tokens themselves did not change.
 */
export async function replaceSealedTokens(db: Database, id: string, previous: string, next: string): Promise<boolean> {
  const result = await db
    .updateTable('connections')
    .set({ tokens_sealed: next })
    .where('id', '=', id)
    .where('tokens_sealed', '=', previous)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function countSealedTokens(db: Database): Promise<number> {
  const row = await db
    .selectFrom('connections')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('tokens_sealed', 'is not', null)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

/** A connection with its integration's key and provider, for stuck-connection detection. */
export interface ConnectionInStatus {
  record: ConnectionRecord;
  integrationKey: string;
  provider: string;
}

/** Connections that entered `status` at or before `changedBefore` and are still in it, longest first. */
export async function listConnectionsInStatusSince(db: Database, status: ConnectionStatus, changedBefore: number, limit: number): Promise<ConnectionInStatus[]> {
  const rows = await db
    .selectFrom('connections as c')
    .innerJoin('integrations as i', 'i.id', 'c.integration_id')
    .selectAll('c')
    .select(['i.key as integration_key', 'i.provider as integration_provider'])
    .where('c.status', '=', status)
    .where('c.status_changed_at', '<=', changedBefore)
    .orderBy('c.status_changed_at')
    .orderBy('c.id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ record: connectionFromRow(row), integrationKey: row.integration_key, provider: row.integration_provider }));
}

export async function countConnectionsInStatusSince(db: Database, status: ConnectionStatus, changedBefore: number): Promise<number> {
  const row = await db
    .selectFrom('connections')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('status', '=', status)
    .where('status_changed_at', '<=', changedBefore)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}
