import { sql } from 'kysely';
import { connectionFromRow, findConnection, type ConnectionRecord } from './connections-table.ts';
import { isPostgres, type Database } from './database.ts';

/** Reads connection rows by id for the token route's cache misses. */
export interface ConnectionReader {
  find(id: string): Promise<ConnectionRecord | null>;
}

/** Most ids in one statement; more wait for the next one. */
const MAX_BATCH = 256;

/**
 * On PostgreSQL, cache misses that arrive in the same turn of the event loop are read with one
 * statement (`WHERE id = ANY($1)`) instead of one each: under load a round trip, a parse and a
 * pool checkout serve dozens of requests, and alone a miss waits for nothing but the current
 * turn. SQLite reads are synchronous calls into the same process, where batching saves nothing.
 *
 * A read in a batch is as fresh as a read of its own: the batch starts after every request in it
 * arrived, so no row it returns predates a request it answers.
 */
export function connectionReaderFor(db: Database): ConnectionReader {
  if (!isPostgres(db)) return { find: (id) => findConnection(db, id) };
  return new BatchedConnectionReader(db);
}

type Waiter = { resolve(record: ConnectionRecord | null): void; reject(error: unknown): void };

class BatchedConnectionReader implements ConnectionReader {
  private readonly db: Database;
  private pending = new Map<string, Waiter[]>();
  private scheduled = false;

  constructor(db: Database) {
    this.db = db;
  }

  find(id: string): Promise<ConnectionRecord | null> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(id);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(id, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    for (let start = 0; start < ids.length; start += MAX_BATCH) {
      const chunk = ids.slice(start, start + MAX_BATCH);
      void this.read(chunk).then(
        (rows) => {
          for (const id of chunk) for (const waiter of batch.get(id)!) waiter.resolve(rows.get(id) ?? null);
        },
        (error: unknown) => {
          for (const id of chunk) for (const waiter of batch.get(id)!) waiter.reject(error);
        },
      );
    }
  }

  private async read(ids: string[]): Promise<Map<string, ConnectionRecord>> {
    const rows =
      ids.length === 1
        ? await this.db.selectFrom('connections').selectAll().where('id', '=', ids[0]!).execute()
        : await this.db.selectFrom('connections').selectAll().where('id', '=', sql<string>`any(${ids}::text[])`).execute();
    return new Map(rows.map((row) => [row.id, connectionFromRow(row)]));
  }
}
