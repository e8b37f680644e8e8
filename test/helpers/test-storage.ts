import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../../src/store/index.ts';
import { freshPostgresSchema, type TestDialect } from './test-database.ts';

/**
 * Storage for a test that builds its own configuration (CLI commands, `startServer`, child
 * processes) rather than a harness: on SQLite nothing to add (the file lives in the data dir); on
 * PostgreSQL a fresh schema of TEST_DATABASE_URL, selected by the `DATABASE_URL` in `env`.
 */
export interface TestStorage {
  dialect: TestDialect;
  /** Variables to add to the configuration: `{}` on SQLite, `{ DATABASE_URL }` on PostgreSQL. */
  env: Record<string, string>;
  /**
   * A handle on the same storage, for reading rows directly: the SQLite file in `dataDir`
   * (without one, an empty in-memory SQLite database), or the schema.
   */
  open(dataDir?: string): Promise<DatabaseHandle>;
  /** Drops the schema (PostgreSQL); nothing on SQLite, whose file goes with its data dir. */
  drop(): Promise<void>;
}

export async function testStorage(dialect: TestDialect): Promise<TestStorage> {
  const schema = dialect === 'postgres' ? await freshPostgresSchema() : null;
  return {
    dialect,
    env: schema ? { DATABASE_URL: schema.url } : {},
    open: (dataDir) =>
      openDatabase({
        sqlitePath: dataDir === undefined ? ':memory:' : join(dataDir, 'tokenkeeper.db'),
        ...(schema ? { postgres: { url: schema.url, poolSize: 2, statementTimeoutMs: 5_000, connectTimeoutMs: 5_000 } } : {}),
      }),
    drop: async () => schema?.drop(),
  };
}

/**
 * Everything the storage holds, as text, to look for secrets that must never be at rest in
 * plaintext. SQLite: every byte of the database files in the data dir (main file, WAL, shared
 * memory), so free pages and the journal count too. PostgreSQL: every value of every column of
 * every table in the test schema (text, bytea as raw bytes, JSON as written).
 */
export async function storedText(database: DatabaseHandle, dataDir: string): Promise<string> {
  if (database.dialect === 'sqlite') {
    return readdirSync(dataDir)
      .filter((name) => name.startsWith('tokenkeeper.db'))
      .map((name) => readFileSync(join(dataDir, name)).toString('latin1'))
      .join('\n');
  }
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(database.db);
  if (tables.rows.length === 0) throw new Error('no tables in the test schema: nothing would be scanned');
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(database.db);
    for (const row of rows.rows) {
      for (const value of Object.values(row)) {
        if (value === null || value === undefined) continue;
        parts.push(Buffer.isBuffer(value) ? value.toString('latin1') : typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : String(value));
      }
    }
  }
  return parts.join('\n');
}
