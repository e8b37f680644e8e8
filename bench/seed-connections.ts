import type { KeyRing } from '../src/crypto/index.ts';
import { newId } from '../src/ids.ts';
import type { Database } from '../src/store/index.ts';
import type { ConnectionsTable } from '../src/store/schema.ts';
import { TokenSealer, type StoredTokens } from '../src/tokens/stored-tokens.ts';

export interface SeedPlan {
  db: Database;
  /** The ring the instances run with: rows are sealed the way a refresh would seal them. */
  keyRing: KeyRing;
  integrationId: string;
  count: number;
  /** Owner and account ids are `<prefix><n>`, n = 1..count (one connection per owner and account). */
  prefix: string;
  /** The secrets of connection n. */
  tokens(n: number): StoredTokens;
  scopes: string[];
  issuedAt: number;
  expiresAt: number;
  now: number;
  onProgress?(done: number): void;
}

/** Rows per INSERT: 25 columns × 1,000 stays under both engines' limits on bound parameters. */
const ROWS_PER_INSERT = 1_000;

/**
 * Stores `count` active connections at once, with bulk INSERTs of properly sealed token sets
 * (AES-256-GCM bound to each row, by the same `TokenSealer` the refresh path uses): a hundred
 * thousand connect flows would take an hour, and these rows are indistinguishable from theirs
 * to every reader. Returns the ids, in order of n.
 */
export async function seedConnections(plan: SeedPlan): Promise<string[]> {
  const sealer = new TokenSealer(plan.keyRing);
  const ids: string[] = [];
  const scopes = JSON.stringify(plan.scopes);
  await plan.db.transaction().execute(async (trx) => {
    for (let first = 1; first <= plan.count; first += ROWS_PER_INSERT) {
      const rows: ConnectionsTable[] = [];
      for (let n = first; n < first + ROWS_PER_INSERT && n <= plan.count; n++) {
        const id = newId('con');
        ids.push(id);
        rows.push({
          id,
          integration_id: plan.integrationId,
          owner_id: `${plan.prefix}${n}`,
          kind: 'user',
          status: 'active',
          status_reason: null,
          account_id: `${plan.prefix}${n}`,
          account_label: null,
          tokens_sealed: sealer.seal(id, plan.tokens(n)),
          token_type: 'Bearer',
          scopes,
          expires_at: plan.expiresAt,
          issued_at: plan.issuedAt,
          last_refresh_at: plan.issuedAt,
          metadata: '{}',
          version: 1,
          lease_owner: null,
          lease_until: null,
          failure_count: 0,
          next_attempt_at: null,
          unanswered_refresh_at: null,
          last_error_code: null,
          last_error_message: null,
          created_at: plan.now,
          updated_at: plan.now,
          status_changed_at: plan.now,
          failing_since: null,
        });
      }
      await trx.insertInto('connections').values(rows).execute();
      plan.onProgress?.(ids.length);
    }
  });
  return ids;
}
