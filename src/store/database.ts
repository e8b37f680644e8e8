import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresAdapter, sql } from 'kysely';
import { openPostgres, redactDatabaseUrl, type PostgresPoolOptions } from './postgres-dialect.ts';
import { openSqlite } from './sqlite-dialect.ts';
import type { Schema } from './schema.ts';

export type Database = Kysely<Schema>;

export interface OpenDatabaseOptions {
  /** SQLite file path, or ':memory:'; used when `postgres` is not given. */
  sqlitePath: string;
  /** PostgreSQL (`DATABASE_URL`) instead of SQLite. */
  postgres?: PostgresPoolOptions;
}

export interface DatabaseHandle {
  db: Database;
  dialect: 'sqlite' | 'postgres';
  /** Where the data lives, for reports (a path; never a URL with a password). */
  location: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What the configuration selects: PostgreSQL when `DATABASE_URL` is set, else the SQLite file. */
export function databaseOptionsOf(config: {
  databasePath: string;
  databaseUrl: string | null;
  database: { poolSize: number; statementTimeoutMs: number; connectTimeoutMs: number };
}): OpenDatabaseOptions {
  return {
    sqlitePath: config.databasePath,
    ...(config.databaseUrl === null ? {} : { postgres: { url: config.databaseUrl, ...config.database } }),
  };
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.postgres) return openPostgresDatabase(options.postgres);
  if (options.sqlitePath !== ':memory:') mkdirSync(dirname(options.sqlitePath), { recursive: true });
  return handleOf(new Kysely<Schema>({ dialect: openSqlite({ path: options.sqlitePath }).dialect }), 'sqlite', options.sqlitePath);
}

/**
 * PostgreSQL: a pool, checked with one query before anything else uses it, so that a wrong or
 * unreachable `DATABASE_URL` stops start-up with a clear message instead of failing later.
 */
async function openPostgresDatabase(options: PostgresPoolOptions): Promise<DatabaseHandle> {
  const location = redactDatabaseUrl(options.url);
  const handle = handleOf(new Kysely<Schema>({ dialect: openPostgres(options).dialect }), 'postgres', location);
  try {
    await handle.ping();
  } catch (error) {
    await handle.close().catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot connect to PostgreSQL at ${location} (DATABASE_URL): ${reason}`, { cause: error });
  }
  return handle;
}

function handleOf(db: Database, dialect: DatabaseHandle['dialect'], location: string): DatabaseHandle {
  let closed = false;
  return {
    db,
    dialect,
    location,
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

/** Whether a Kysely instance talks to PostgreSQL (for the few statements that must differ). */
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
