import { createRequire } from 'node:module';
import { PostgresDialect } from 'kysely';

/** Pool settings of the PostgreSQL shapes (TOKENKEEPER_DB_* variables). */
export interface PostgresPoolOptions {
  /** `DATABASE_URL`: `postgres://` or `postgresql://`. */
  url: string;
  /** Connections per process. */
  poolSize: number;
  /** `statement_timeout` of every session: a query running longer is cancelled by the server. */
  statementTimeoutMs: number;
  /** How long to wait for a connection (new or from the pool) before failing. */
  connectTimeoutMs: number;
}

/** The slice of `pg` used here (Kysely talks to the pool through its own structural types). */
interface PgModule {
  Pool: new (config: Record<string, unknown>) => PgPool;
  types: { getTypeParser(oid: number, format?: string): (value: string) => unknown };
}

interface PgPool {
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'connect', listener: (client: { on(event: 'error', listener: (error: Error) => void): void }) => void): void;
  end(): Promise<void>;
}

const INT8_OID = 20;

/**
 * Kysely's PostgreSQL dialect on a `pg` pool. `pg` is loaded only when PostgreSQL is configured,
 * so the embedded shape never pays for it. Times are epoch milliseconds in `bigint` columns,
 * which `pg` returns as strings by default (int8 may exceed 2^53); ours never do (times are
 * bounded to year 9999, see time-bounds.ts), so this pool reads int8 as numbers — per pool, not
 * by changing `pg`'s global parsers under an application that embeds us.
 */
export function openPostgres(options: PostgresPoolOptions): { dialect: PostgresDialect; pool: PgPool } {
  const pg = createRequire(import.meta.url)('pg') as PgModule;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    statement_timeout: options.statementTimeoutMs,
    connectionTimeoutMillis: options.connectTimeoutMs,
    types: {
      getTypeParser: (oid: number, format?: string) => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)),
    },
  });
  // An idle client losing its connection (a PostgreSQL restart) must not crash the process: the
  // pool drops it and the next query gets a fresh one.
  pool.on('error', () => undefined);
  // Nor a client in use: the pool listens for errors only while a client is idle, and `pg` emits
  // 'error' on a client whose connection dies even when the failure also rejects its query — with
  // no listener, that event would crash the process. The query's rejection is what reports it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return { dialect: new PostgresDialect({ pool: pool as never }), pool };
}

/** The URL without its password, for reports and logs. */
export function redactDatabaseUrl(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed) return 'postgresql://(unparseable URL)';
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
