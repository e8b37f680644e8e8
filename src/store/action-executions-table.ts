import type { Database } from './database.ts';
import type { ActionExecutionsTable } from './schema.ts';

/** An `execute` with an Idempotency-Key: its claim while it runs, then the answer it gave (migration 0010). */
export interface ActionExecutionRecord {
  id: string;
  connectionId: string;
  action: string;
  requestDigest: string;
  state: 'running' | 'done';
  claimToken: string | null;
  claimedUntil: number | null;
  outcome: string | null;
  /** The sealed answer (associated data `action_executions:<id>:answer`). */
  answerSealed: string | null;
  createdAt: number;
  expiresAt: number;
}

function recordOf(row: ActionExecutionsTable): ActionExecutionRecord {
  return {
    id: row.id,
    connectionId: row.connection_id,
    action: row.action,
    requestDigest: row.request_digest,
    state: row.state === 'done' ? 'done' : 'running',
    claimToken: row.claim_token,
    claimedUntil: row.claimed_until === null ? null : Number(row.claimed_until),
    outcome: row.outcome,
    answerSealed: row.answer_sealed,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

/**
 * Claims the key for one execution: inserts a `running` row, or finds the row already there.
 * The primary key decides between executions racing with one key, on any number of instances:
 * exactly one insert wins. A row past its 24 h is removed first (conditionally, so a fresh claim
 * by someone else is never removed), and the key starts over.
 */
export async function claimActionExecution(
  db: Database,
  claim: Pick<ActionExecutionRecord, 'id' | 'connectionId' | 'action' | 'requestDigest' | 'claimToken' | 'claimedUntil' | 'createdAt' | 'expiresAt'>,
): Promise<{ claimed: true } | { claimed: false; existing: ActionExecutionRecord }> {
  await db.deleteFrom('action_executions').where('id', '=', claim.id).where('expires_at', '<=', claim.createdAt).execute();
  const inserted = await db
    .insertInto('action_executions')
    .values({
      id: claim.id,
      connection_id: claim.connectionId,
      action: claim.action,
      request_digest: claim.requestDigest,
      state: 'running',
      claim_token: claim.claimToken,
      claimed_until: claim.claimedUntil,
      outcome: null,
      answer_sealed: null,
      created_at: claim.createdAt,
      expires_at: claim.expiresAt,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return { claimed: true };
  const existing = await findActionExecution(db, claim.id);
  // Gone between the insert and the read (expired and removed by another caller): try once more.
  if (existing === null) return claimActionExecution(db, claim);
  return { claimed: false, existing };
}

export async function findActionExecution(db: Database, id: string): Promise<ActionExecutionRecord | null> {
  const row = await db.selectFrom('action_executions').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? recordOf(row) : null;
}

/** Stores the answer of the execution holding the claim; false when the claim is no longer its own. */
export async function finishActionExecution(db: Database, id: string, claimToken: string, outcome: string, answerSealed: string): Promise<boolean> {
  const result = await db
    .updateTable('action_executions')
    .set({ state: 'done', outcome, answer_sealed: answerSealed, claim_token: null, claimed_until: null })
    .where('id', '=', id)
    .where('state', '=', 'running')
    .where('claim_token', '=', claimToken)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Gives the key back (nothing reached the provider, so a retry with it may run again). */
export async function releaseActionExecution(db: Database, id: string, claimToken: string): Promise<void> {
  await db.deleteFrom('action_executions').where('id', '=', id).where('state', '=', 'running').where('claim_token', '=', claimToken).execute();
}

/**
 * Closes a claim whose execution died (its instance crashed or stalled past `claimed_until`)
 * with the answer given: only while the row is still that stale claim, so it is decided once.
 */
export async function closeStaleActionExecution(db: Database, id: string, now: number, outcome: string, answerSealed: string): Promise<boolean> {
  const result = await db
    .updateTable('action_executions')
    .set({ state: 'done', outcome, answer_sealed: answerSealed, claim_token: null, claimed_until: null })
    .where('id', '=', id)
    .where('state', '=', 'running')
    .where('claimed_until', '<', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Removes the rows past their 24 h (the cleanup job). */
export async function deleteExpiredActionExecutions(db: Database, now: number): Promise<number> {
  const result = await db.deleteFrom('action_executions').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Every stored answer, for `rotate-keys`. */
export async function listSealedActionAnswers(db: Database): Promise<Array<{ id: string; sealed: string }>> {
  const rows = await db.selectFrom('action_executions').select(['id', 'answer_sealed']).where('answer_sealed', 'is not', null).orderBy('id').execute();
  return rows.map((row) => ({ id: row.id, sealed: row.answer_sealed! }));
}

/** Compare-and-set of one stored answer, for `rotate-keys`. */
export async function replaceSealedActionAnswer(db: Database, id: string, expected: string, next: string): Promise<boolean> {
  const result = await db.updateTable('action_executions').set({ answer_sealed: next }).where('id', '=', id).where('answer_sealed', '=', expected).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
