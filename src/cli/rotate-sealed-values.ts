import type { KeyRing } from '../crypto/index.ts';
import { isTokenkeeperError } from '../errors.ts';
import {
  countSealedTokens,
  listSealedActionAnswers,
  listSealedClientSecrets,
  listSealedTokens,
  listSealedVerifiers,
  listSealedWebhookSecrets,
  replaceSealedActionAnswer,
  replaceSealedClientSecret,
  replaceSealedTokens,
  replaceSealedVerifier,
  replaceSealedWebhookSecret,
  type Database,
} from '../store/index.ts';

type Row = { id: string; sealed: string };

/** One column that holds sealed values, and how to page through it and compare-and-set it. */
interface SealedColumn {
  /** `table.column`, as shown in reports. */
  name: string;
  label: string;
  /** Associated data the value is bound to (crypto/index.ts: `<table>:<row id>:<column>`). */
  associatedData(id: string): string;
  count(db: Database): Promise<number>;
  batches(db: Database, size: number): AsyncIterable<Row[]>;
  replace(db: Database, id: string, previous: string, next: string): Promise<boolean>;
}

async function* chunks(rows: Row[], size: number): AsyncIterable<Row[]> {
  for (let start = 0; start < rows.length; start += size) yield rows.slice(start, start + size);
}

/**
 * Every sealed column in the schema. A new `*_sealed` column must be added here, or rotation
 * would leave it under the old key and removing that key would lose it.
 */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  {
    name: 'connections.tokens_sealed',
    label: 'connection tokens',
    associatedData: (id) => `connections:${id}:tokens`,
    count: (db) => countSealedTokens(db),
    // Keyset pages by id: a long table is never held in memory, and rows added meanwhile with
    // higher ids are still visited (those are sealed under the new primary key already anyway).
    async *batches(db, size) {
      let after: string | null = null;
      for (;;) {
        const rows = await listSealedTokens(db, after, size);
        if (rows.length === 0) return;
        yield rows;
        after = rows.at(-1)!.id;
      }
    },
    replace: replaceSealedTokens,
  },
  {
    name: 'integrations.client_secret_sealed',
    label: 'client secrets',
    associatedData: (id) => `integrations:${id}:client_secret`,
    count: async (db) => (await listSealedClientSecrets(db)).length,
    batches: async function* (db, size) {
      yield* chunks(await listSealedClientSecrets(db), size);
    },
    replace: replaceSealedClientSecret,
  },
  {
    name: 'connect_sessions.code_verifier_sealed',
    label: 'PKCE verifiers',
    associatedData: (id) => `connect_sessions:${id}:code_verifier`,
    count: async (db) => (await listSealedVerifiers(db)).length,
    batches: async function* (db, size) {
      yield* chunks(await listSealedVerifiers(db), size);
    },
    replace: replaceSealedVerifier,
  },
  {
    name: 'app_webhooks.secret_sealed',
    label: 'webhook signing secrets',
    associatedData: (id) => `app_webhooks:${id}:secret`,
    count: async (db) => (await listSealedWebhookSecrets(db)).length,
    batches: async function* (db, size) {
      yield* chunks(await listSealedWebhookSecrets(db), size);
    },
    replace: replaceSealedWebhookSecret,
  },
  {
    name: 'action_executions.answer_sealed',
    label: 'stored action answers',
    associatedData: (id) => `action_executions:${id}:answer`,
    count: async (db) => (await listSealedActionAnswers(db)).length,
    batches: async function* (db, size) {
      yield* chunks(await listSealedActionAnswers(db), size);
    },
    replace: replaceSealedActionAnswer,
  },
];

export interface ColumnTally {
  column: string;
  label: string;
  /** Re-encrypted under the primary key by this run (or, in a dry run, that would be). */
  reencrypted: number;
  /** Already under the primary key: nothing to do. */
  current: number;
  /** Changed by someone else between read and write (compare-and-set lost): the next run gets it. */
  skipped: number;
  /** Cannot be opened with any configured key: ids, so an operator can look. */
  unreadable: string[];
}

export interface RotationReport {
  primaryKeyId: string;
  dryRun: boolean;
  total: number;
  columns: ColumnTally[];
}

export interface RotateOptions {
  db: Database;
  keyRing: KeyRing;
  batchSize: number;
  dryRun?: boolean;
  onProgress?(done: number, total: number, label: string): void;
}

/**
 * Re-encrypts every sealed value under the key ring's primary key (`tokenkeeper rotate-keys`).
 *
 * Resumable and safe beside running servers:
 * - values already under the primary key are skipped, so a second run only does what is left;
 * - each write is a compare-and-set on the ciphertext that was read, so a token set a refresh
 *   committed meanwhile is never overwritten with an older one; such a value counts as skipped
 *   and the next run re-reads it;
 * - each batch commits in one transaction, so an interrupted run loses at most one batch of work,
 *   never data.
 */
export async function rotateSealedValues(options: RotateOptions): Promise<RotationReport> {
  const { db, keyRing, batchSize } = options;
  const counts = await Promise.all(SEALED_COLUMNS.map((column) => column.count(db)));
  const total = counts.reduce((sum, count) => sum + count, 0);
  const report: RotationReport = { primaryKeyId: keyRing.primaryKeyId, dryRun: options.dryRun === true, total, columns: [] };
  let done = 0;
  options.onProgress?.(0, total, 'starting');

  for (const column of SEALED_COLUMNS) {
    const tally: ColumnTally = { column: column.name, label: column.label, reencrypted: 0, current: 0, skipped: 0, unreadable: [] };
    report.columns.push(tally);
    for await (const rows of column.batches(db, batchSize)) {
      const work: { row: Row; next: string }[] = [];
      for (const row of rows) {
        if (keyRing.isCurrent(row.sealed)) {
          tally.current++;
          continue;
        }
        try {
          work.push({ row, next: keyRing.reseal(row.sealed, column.associatedData(row.id)) });
        } catch (error) {
          if (!isTokenkeeperError(error, 'decryption_failed')) throw error;
          tally.unreadable.push(row.id);
        }
      }
      if (options.dryRun) tally.reencrypted += work.length;
      else if (work.length > 0) {
        await db.transaction().execute(async (trx) => {
          for (const { row, next } of work) {
            if (await column.replace(trx, row.id, row.sealed, next)) tally.reencrypted++;
            else tally.skipped++;
          }
        });
      }
      done += rows.length;
      // Rows added while rotating can push `done` past the first count.
      options.onProgress?.(done, Math.max(total, done), column.label);
    }
  }
  return report;
}
