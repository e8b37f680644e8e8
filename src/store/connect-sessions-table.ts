import type { Database } from './database.ts';
import type { ConnectSessionsTable } from './schema.ts';
import { checkStorableTimes } from './time-bounds.ts';

export interface ConnectSessionRecord {
  id: string;
  integrationId: string;
  ownerId: string | null;
  kind: 'user' | 'system';
  redirectTo: string | null;
  linkHash: string;
  stateHash: string | null;
  codeVerifierSealed: string | null;
  nonce: string | null;
  expiresAt: number;
  openedAt: number | null;
  consumedAt: number | null;
  createdAt: number;
}

function fromRow(row: ConnectSessionsTable): ConnectSessionRecord {
  return {
    id: row.id,
    integrationId: row.integration_id,
    ownerId: row.owner_id,
    kind: row.kind,
    redirectTo: row.redirect_to,
    linkHash: row.link_hash,
    stateHash: row.state_hash,
    codeVerifierSealed: row.code_verifier_sealed,
    nonce: row.nonce,
    expiresAt: Number(row.expires_at),
    openedAt: row.opened_at === null ? null : Number(row.opened_at),
    consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
    createdAt: Number(row.created_at),
  };
}

export async function insertConnectSession(db: Database, record: ConnectSessionRecord): Promise<void> {
  await db
    .insertInto('connect_sessions')
    .values(checkStorableTimes('connect_sessions', {
      id: record.id,
      integration_id: record.integrationId,
      owner_id: record.ownerId,
      kind: record.kind,
      redirect_to: record.redirectTo,
      link_hash: record.linkHash,
      state_hash: record.stateHash,
      code_verifier_sealed: record.codeVerifierSealed,
      nonce: record.nonce,
      expires_at: record.expiresAt,
      opened_at: record.openedAt,
      consumed_at: record.consumedAt,
      created_at: record.createdAt,
    }))
    .execute();
}

export async function findConnectSessionByLink(db: Database, linkHash: string): Promise<ConnectSessionRecord | null> {
  const row = await db.selectFrom('connect_sessions').selectAll().where('link_hash', '=', linkHash).executeTakeFirst();
  return row ? fromRow(row) : null;
}

export async function findConnectSessionByState(db: Database, stateHash: string): Promise<ConnectSessionRecord | null> {
  const row = await db.selectFrom('connect_sessions').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
  return row ? fromRow(row) : null;
}

/**
 * Opening a connect link (again) starts a fresh authorization attempt: new state, new PKCE
 * verifier. A link opened twice (a double click, a reload) keeps working; the older attempt's
 * state stops matching, so only the newest authorization can complete.
 */
export async function startConnectAttempt(
  db: Database,
  id: string,
  attempt: { stateHash: string; codeVerifierSealed: string | null; nonce: string | null; openedAt: number },
): Promise<boolean> {
  const result = await db
    .updateTable('connect_sessions')
    .set({
      state_hash: attempt.stateHash,
      code_verifier_sealed: attempt.codeVerifierSealed,
      nonce: attempt.nonce,
      opened_at: attempt.openedAt,
    })
    .where('id', '=', id)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', attempt.openedAt)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Marks the state used, once. Two callbacks racing with the same state (a replay, a double
 * submit) both reach this UPDATE; the database lets exactly one of them see a row.
 */
export async function consumeConnectSession(db: Database, id: string, stateHash: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('connect_sessions')
    .set({ consumed_at: now })
    .where('id', '=', id)
    .where('state_hash', '=', stateHash)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Sessions long past expiry are deleted by the cleanup job (kept a day for support questions). */
export async function deleteExpiredConnectSessions(db: Database, before: number): Promise<number> {
  const result = await db.deleteFrom('connect_sessions').where('expires_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function listSealedVerifiers(db: Database): Promise<{ id: string; sealed: string }[]> {
  const rows = await db
    .selectFrom('connect_sessions')
    .select(['id', 'code_verifier_sealed'])
    .where('code_verifier_sealed', 'is not', null)
    .execute();
  return rows.map((row) => ({ id: row.id, sealed: row.code_verifier_sealed! }));
}

export async function replaceSealedVerifier(db: Database, id: string, previous: string, next: string): Promise<boolean> {
  const result = await db
    .updateTable('connect_sessions')
    .set({ code_verifier_sealed: next })
    .where('id', '=', id)
    .where('code_verifier_sealed', '=', previous)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A connect session with its integration's key and provider, for stuck-connection detection. */
export interface UnfinishedConnectSession {
  session: ConnectSessionRecord;
  integrationKey: string;
  provider: string;
}

/**
 * Connect sessions created at or before `createdBefore` whose callback never completed, leaving
 * out those superseded by a newer session for the same integration, kind and owner: a user who
 * started again is waiting on the new link, not the old one. (Sessions are deleted a day after
 * they expire, so one is listed for about a day.)
 */
function unfinishedConnectSessions(db: Database, createdBefore: number) {
  return db
    .selectFrom('connect_sessions as s')
    .innerJoin('integrations as i', 'i.id', 's.integration_id')
    .where('s.consumed_at', 'is', null)
    .where('s.created_at', '<=', createdBefore)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('connect_sessions as n')
            .select('n.id')
            .whereRef('n.integration_id', '=', 's.integration_id')
            .whereRef('n.kind', '=', 's.kind')
            .whereRef('n.created_at', '>', 's.created_at')
            .where((eb) => eb.or([eb('n.owner_id', '=', eb.ref('s.owner_id')), eb.and([eb('n.owner_id', 'is', null), eb('s.owner_id', 'is', null)])])),
        ),
      ),
    );
}

/** Unfinished connect sessions (see above), oldest first. */
export async function listUnfinishedConnectSessions(db: Database, createdBefore: number, limit: number): Promise<UnfinishedConnectSession[]> {
  const rows = await unfinishedConnectSessions(db, createdBefore)
    .selectAll('s')
    .select(['i.key as integration_key', 'i.provider as integration_provider'])
    .orderBy('s.created_at')
    .orderBy('s.id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ session: fromRow(row), integrationKey: row.integration_key, provider: row.integration_provider }));
}

export async function countUnfinishedConnectSessions(db: Database, createdBefore: number): Promise<number> {
  const row = await unfinishedConnectSessions(db, createdBefore)
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}
