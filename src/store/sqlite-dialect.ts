import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  SqliteDialect,
  SqliteDriver,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely';

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

/** SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT); SQLITE_LOCKED. */
export function isSqliteBusy(error: unknown): boolean {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' && ((errcode & 0xff) === 5 || (errcode & 0xff) === 6);
}

/**
 * `node:sqlite` is synchronous: its busy handler sleeps *on the event loop*, so a 5 s
 * `busy_timeout` behind another process's write lock froze every request of this process —
 * cached tokens included — for 5 s. Instead SQLite's own wait is kept to a few milliseconds and
 * the rest of the wait happens here, asynchronously, with growing pauses, up to `busyWaitMs`.
 * While one query waits the event loop keeps serving everything that needs no write.
 */
class BusyRetryConnection implements DatabaseConnection {
  private readonly inner: DatabaseConnection;
  private readonly busyWaitMs: number;

  constructor(inner: DatabaseConnection, busyWaitMs: number) {
    this.inner = inner;
    this.busyWaitMs = busyWaitMs;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const startedAt = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.inner.executeQuery<R>(query);
      } catch (error) {
        if (!isSqliteBusy(error) || performance.now() - startedAt >= this.busyWaitMs) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, 2 * 2 ** attempt)));
      }
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class BusyRetrySqliteDriver extends SqliteDriver {
  private wrapped: BusyRetryConnection | null = null;
  private readonly busyWaitMs: number;

  constructor(config: SqliteDialectConfig, busyWaitMs: number) {
    super(config);
    this.busyWaitMs = busyWaitMs;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    this.wrapped ??= new BusyRetryConnection(await super.acquireConnection(), this.busyWaitMs);
    return this.wrapped;
  }
}

class BusyRetrySqliteDialect extends SqliteDialect {
  private readonly config: SqliteDialectConfig;
  private readonly busyWaitMs: number;

  constructor(config: SqliteDialectConfig, busyWaitMs: number) {
    super(config);
    this.config = config;
    this.busyWaitMs = busyWaitMs;
  }

  override createDriver(): Driver {
    return new BusyRetrySqliteDriver(this.config, this.busyWaitMs);
  }
}

export interface SqliteOpenOptions {
  /** Path of the database file, or ':memory:'. */
  path: string;
  /** How long a writer waits for another process's write lock before failing (ms); asynchronously. */
  busyTimeoutMs?: number;
}

/**
 * Opens a SQLite database in WAL mode: readers never block the writer, and several Tokenkeeper
 * processes (e.g. `serve` and a CLI command) can share one file safely. A writer waits (without
 * blocking the event loop) for another process's short write transaction instead of failing at once.
 */
export function openSqlite(options: SqliteOpenOptions): { dialect: SqliteDialect; database: DatabaseSync } {
  // SQLite's own (synchronous) busy wait is a few ms; the rest is waited asynchronously above.
  const database = new DatabaseSync(options.path, { timeout: 10 });
  database.exec('PRAGMA journal_mode = WAL');
  database.exec('PRAGMA synchronous = NORMAL');
  database.exec('PRAGMA foreign_keys = ON');
  const adapter = new NodeSqliteDatabase(database);
  return { dialect: new BusyRetrySqliteDialect({ database: adapter }, options.busyTimeoutMs ?? 5000), database };
}
