import { sql, type Kysely } from 'kysely';
import { MAX_TIME_MS } from '../time-bounds.ts';

/**
 * Refresh safety:
 *
 * - `unanswered_refresh_at`: set (under the lease) just before a refresh request is sent, cleared
 *   when its answer is processed. A row that still has it when the next holder takes the lease
 *   tells that holder a provider call died with its process (kill -9, a stall past the lease, a
 *   timeout): if the provider then rejects the old refresh token, it rotated it and the new one
 *   was lost — a different thing from the user revoking access.
 * - One live connection per (integration, owner, provider account), and one live system
 *   connection per integration, enforced by the database: two imports or two first callers
 *   racing in different processes cannot both insert (each would hold the same refresh token,
 *   and refreshing both kills the grant under rotation with reuse detection, RFC 9700 §4.14.2).
 *   Revoked rows are kept out of the indexes.
 *
 * Duplicates made before this migration are already broken that way; the newest of each group
 * is kept and the others are marked revoked (rows and history are kept for the operator).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('connections').addColumn('unanswered_refresh_at', 'bigint').execute();

  // Rows written before times were bounded may hold values past 2^53 (an `expires_in: 1e13`)
  // that can never be read back, breaking every listing that contains them. Clamp them to the
  // largest storable time (9999-12-31T23:59:59.999Z, store/time-bounds.ts) without reading them.
  for (const column of ['expires_at', 'issued_at', 'last_refresh_at', 'next_attempt_at', 'lease_until']) {
    await sql`update connections set ${sql.ref(column)} = ${MAX_TIME_MS} where ${sql.ref(column)} > ${MAX_TIME_MS}`.execute(db);
  }

  const duplicateReason = 'duplicate of a newer connection to the same account (one connection per account is now enforced)';
  await sql`
    update connections set status = 'revoked', status_reason = ${duplicateReason}, lease_owner = null, lease_until = null
    where status <> 'revoked' and account_id is not null and owner_id is not null and exists (
      select 1 from connections newer
      where newer.integration_id = connections.integration_id and newer.owner_id = connections.owner_id
        and newer.account_id = connections.account_id and newer.status <> 'revoked'
        and (newer.created_at > connections.created_at or (newer.created_at = connections.created_at and newer.id > connections.id))
    )`.execute(db);
  await sql`
    update connections set status = 'revoked', status_reason = ${duplicateReason}, lease_owner = null, lease_until = null
    where status <> 'revoked' and kind = 'system' and exists (
      select 1 from connections newer
      where newer.integration_id = connections.integration_id and newer.kind = 'system' and newer.status <> 'revoked'
        and (newer.created_at > connections.created_at or (newer.created_at = connections.created_at and newer.id > connections.id))
    )`.execute(db);

  await sql`create unique index connections_one_per_account on connections (integration_id, owner_id, account_id)
    where account_id is not null and owner_id is not null and status <> 'revoked'`.execute(db);
  await sql`create unique index connections_one_system on connections (integration_id)
    where kind = 'system' and status <> 'revoked'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('connections_one_system').ifExists().execute();
  await db.schema.dropIndex('connections_one_per_account').ifExists().execute();
  await db.schema.alterTable('connections').dropColumn('unanswered_refresh_at').execute();
}
