import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, sql } from 'kysely';
import { openSqlite } from './sqlite-dialect.ts';
import type { Schema } from './schema.ts';

export type Database = Kysely<Schema>;

export interface OpenDatabaseOptions {
  /** SQLite file path, or ':memory:'. (PostgreSQL arrives with cluster mode.) */
  sqlitePath: string;
}

export interface DatabaseHandle {
  db: Database;
  dialect: 'sqlite' | 'postgres';
  /** Where the data lives, for reports (a path; never a URL with a password). */
  location: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.sqlitePath !== ':memory:') mkdirSync(dirname(options.sqlitePath), { recursive: true });
  const { dialect } = openSqlite({ path: options.sqlitePath });
  const db = new Kysely<Schema>({ dialect });
  let closed = false;
  return {
    db,
    dialect: 'sqlite',
    location: options.sqlitePath,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
