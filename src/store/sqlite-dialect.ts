import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';

/**
 * Kysely's SqliteDialect expects a better-sqlite3 shaped database. `node:sqlite` is close: the one
 * difference is that better-sqlite3 statements say whether they return rows (`reader`), which
 * `node:sqlite` tells through `columns()`. Statements are cached per SQL text: the token hot path
 * runs the same few queries over and over.
 */
class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  private readonly statement: StatementSync;

  constructor(statement: StatementSync) {
    this.statement = statement;
    this.reader = statement.columns().length > 0;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.statement.all(...(parameters as never[]));
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.statement.run(...(parameters as never[]));
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.statement.iterate(...(parameters as never[])) as IterableIterator<unknown>;
  }
}

class NodeSqliteDatabase implements SqliteDatabase {
  private readonly statements = new Map<string, NodeSqliteStatement>();
  readonly database: DatabaseSync;

  constructor(database: DatabaseSync) {
    this.database = database;
  }

  prepare(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = new NodeSqliteStatement(this.database.prepare(sql));
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    this.statements.clear();
    if (this.database.isOpen) this.database.close();
  }
}

export interface SqliteOpenOptions {
  /** Path of the database file, or ':memory:'. */
  path: string;
  /** How long a writer waits for another process's write lock before failing (ms). */
  busyTimeoutMs?: number;
}

/**
 * Opens a SQLite database in WAL mode: readers never block the writer, and several Tokenkeeper
 * processes (e.g. `serve` and a CLI command) can share one file safely. `busy_timeout` makes a
 * writer wait for another process's short write transaction instead of failing at once.
 */
export function openSqlite(options: SqliteOpenOptions): { dialect: SqliteDialect; database: DatabaseSync } {
  const database = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
  database.exec('PRAGMA journal_mode = WAL');
  database.exec('PRAGMA synchronous = NORMAL');
  database.exec('PRAGMA foreign_keys = ON');
  const adapter = new NodeSqliteDatabase(database);
  return { dialect: new SqliteDialect({ database: adapter }), database };
}
