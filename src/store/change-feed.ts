import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { sql, type Compilable, type OperationNodeSource } from 'kysely';
import type { Logger } from '../logger.ts';
import { insertAppEvents, insertAppEventsWhen, type NewAppEvent } from './app-events-table.ts';
import { isPostgres, type Database } from './database.ts';
import { appendEvent, appendEventsWhen, type NewEvent } from './events-table.ts';
import type { PostgresPoolOptions } from './postgres-dialect.ts';

/** A row that in-process caches may hold changed: the connection, integration or API key `id`. */
export interface Change {
  kind: 'connection' | 'integration' | 'api_key';
  id: string;
}

/**
 * What subscribers hear: a change (with `own` true when this instance made it, and so has updated
 * its own caches already), the notification connection lost, or back after a loss — when any
 * message sent meanwhile may have been missed, so every cache drops everything.
 */
export type FeedSignal = (Change & { own: boolean }) | { kind: 'lost' } | { kind: 'reconnected' };

/**
 * `not_used` on SQLite (no other instance can notify; the one-second bound of every cache does
 * the work); on PostgreSQL `live` while the listening connection is up, else `down` (reconnecting
 * by itself); `closed` after `close()`.
 */
export type FeedStatus = 'not_used' | 'live' | 'down' | 'closed';

/** Waits for changes of one row (a refresh holder's commit), started before the row is read. */
export interface ChangeWatch {
  /** Resolves on a change of the row (or a loss/return of the channel) since the last call, or after `timeoutMs`. */
  next(timeoutMs: number): Promise<void>;
  stop(): void;
}

/**
 * The cross-process invalidation channel every in-process cache listens to (invariant 10). On
 * PostgreSQL: one dedicated connection per instance LISTENs on a channel named after the schema,
 * and every write that changes what a cache may hold sends `pg_notify` in its own transaction, so
 * the message goes out exactly when the change commits. On SQLite nothing is sent or heard.
 */
export interface ChangeFeed {
  status(): FeedStatus;
  /**
   * Whether caches may answer from their entries: always on SQLite (entries live one second); on
   * PostgreSQL only while the channel is live — an instance that cannot hear invalidations reads
   * the database instead.
   */
  cachesTrusted(): boolean;
  /**
   * Whether a cache may answer with the last entry it knew (one no invalidation has dropped) when
   * the database cannot be read. Only on PostgreSQL — every change is a database write announced
   * on the channel, so an entry still held was current when the database went away — and only for
   * `outageGraceMs` after the channel was lost, which bounds what a network partition of this one
   * instance could serve. Never on SQLite, where an entry older than a second may be stale.
   */
  lastKnownAllowed(): boolean;
  subscribe(listener: (signal: FeedSignal) => void): () => void;
  /** The backend pid of the listening connection while live (for `pg_stat_activity`, and tests); null otherwise. */
  listenerPid(): number | null;
  watch(kind: Change['kind'], id: string): ChangeWatch;
  /**
   * Runs `write` and announces `changes` in the same transaction on PostgreSQL (the message is
   * sent on commit, never for a write that rolled back); on SQLite just runs `write`. With an
   * `outbox`, the application events it returns for `write`'s result are written in that same
   * transaction (on SQLite too), so they commit with the change or not at all (invariant 11).
   */
  writeAndNotify<T>(db: Database, changes: Change[], write: (db: Database) => Promise<T>, outbox?: Outbox<T>): Promise<T>;
  /**
   * `writeAndNotify` for a write that is one statement on one row, whose events are known before
   * it is sent: on PostgreSQL the write, its events and the announcement go out as one statement,
   * one round trip instead of five. Resolves with the row written, or undefined when the
   * statement changed none (then nothing else is written or announced).
   */
  writeRowAndNotify<R>(db: Database, changes: Change[], write: RowWrite<R>): Promise<R | undefined>;
  close(): Promise<void>;
}

/** How long after losing the channel an instance may still answer from last-known entries. */
export const OUTAGE_GRACE_MS = 60_000;

const KINDS: Change['kind'][] = ['connection', 'integration', 'api_key'];

/** The channel of the schema in use: instances on other schemas of the database never hear it. */
const CHANNEL = sql`'tokenkeeper_' || md5(current_schema())`;

function payloadOf(change: Change, origin: string | undefined): string {
  return origin === undefined ? `${change.kind}:${change.id}` : `${change.kind}:${change.id}:${origin}`;
}

/**
 * The application events a write causes, built from its result (none when a fenced write did not
 * land) and read, if need be, in its transaction; written to the webhook outbox
 * (app-events-table.ts) before that transaction commits.
 */
export type Outbox<T> = (result: T, db: Database) => readonly NewAppEvent[] | Promise<readonly NewAppEvent[]>;

/**
 * Announces changes without a feed (the CLI, or a write outside the services): in the same
 * transaction as `write` on PostgreSQL, so other instances drop their cached entries on commit.
 * `outbox`: see `ChangeFeed.writeAndNotify`.
 */
export function writeAndNotify<T>(
  db: Database,
  changes: Change[],
  write: (db: Database) => Promise<T>,
  options: { origin?: string; outbox?: Outbox<T> } = {},
): Promise<T> {
  const { origin, outbox } = options;
  const postgres = isPostgres(db);
  if (!postgres && !outbox) return write(db);
  const work = async (trx: Database): Promise<T> => {
    const result = await write(trx);
    if (outbox) await insertAppEvents(trx, await outbox(result, trx));
    if (!postgres) return result;
    for (const change of changes) await sql`select pg_notify(${CHANNEL}, ${payloadOf(change, origin)})`.execute(trx);
    return result;
  };
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

/**
 * A write of one row as a single statement (an `UPDATE … RETURNING *` built but not sent), with
 * the rows that commit with it when it changes a row. Its events are given, not built from the
 * result as an `Outbox` is: a fenced update's result is known before it is sent
 * (connections-table.ts `fencedRecordAfter`).
 */
export interface RowWrite<R> {
  statement: Compilable<R> & OperationNodeSource;
  /** For the application's webhook outbox (kept only if some endpoint subscribes, as `insertAppEvents`). */
  appEvents?: readonly NewAppEvent[];
  /** For the event log (events-table.ts). */
  logEvents?: readonly NewEvent[];
}

/**
 * Sends a `RowWrite` with its events and announcement (see `ChangeFeed.writeRowAndNotify`).
 *
 * On PostgreSQL it is one statement: the UPDATE in a data-modifying `WITH`, the outbox and event
 * rows inserted by sibling `WITH` statements only if it returned a row, and `pg_notify` called
 * for that row in the outer select. One statement is one transaction, so everything commits
 * together or not at all, and the message goes out on that commit, exactly as with
 * `writeAndNotify`'s explicit transaction — without the four round trips of `begin`, the inserts,
 * the notify and `commit`, which on a loaded machine cost more than the work. On SQLite (no
 * data-modifying `WITH`) the statements run in one transaction as `writeAndNotify`'s do.
 */
export async function writeRowAndNotify<R>(db: Database, changes: Change[], write: RowWrite<R>, options: { origin?: string } = {}): Promise<R | undefined> {
  const appEvents = write.appEvents ?? [];
  const logEvents = write.logEvents ?? [];
  if (isPostgres(db)) {
    if (changes.length === 0 && appEvents.length === 0 && logEvents.length === 0) {
      return (await db.executeQuery(write.statement.compile())).rows[0];
    }
    const landed = sql`exists (select 1 from written)`;
    const ctes = [sql`written as (${write.statement})`];
    if (appEvents.length > 0) ctes.push(sql`outbox as (${insertAppEventsWhen(appEvents, landed)})`);
    if (logEvents.length > 0) ctes.push(sql`logged as (${appendEventsWhen(logEvents, landed)})`);
    // In the outer select list, so it runs once per row written: never for a write that matched nothing.
    const notices = changes.map((change, index) => sql`pg_notify(${CHANNEL}, ${payloadOf(change, options.origin)}) as ${sql.ref(`notified_${index}`)}`);
    const { rows } = await sql<R>`with ${sql.join(ctes)} select ${sql.join([sql`written.*`, ...notices])} from written`.execute(db);
    return rows[0];
  }
  if (appEvents.length === 0 && logEvents.length === 0) return (await db.executeQuery(write.statement.compile())).rows[0];
  const work = async (trx: Database): Promise<R | undefined> => {
    const row = (await trx.executeQuery(write.statement.compile())).rows[0];
    if (row === undefined) return undefined;
    await insertAppEvents(trx, appEvents);
    for (const event of logEvents) await appendEvent(trx, event);
    return row;
  };
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

/** The feed the configured storage calls for: PostgreSQL's, or none on SQLite. */
export function openChangeFeed(database: { postgres?: PostgresPoolOptions }, logger: Logger): Promise<ChangeFeed> {
  return database.postgres ? openPostgresChangeFeed({ postgres: database.postgres, logger }) : Promise.resolve(localChangeFeed());
}

/** The feed for SQLite: nothing to hear, entries are trusted for their one second. */
export function localChangeFeed(): ChangeFeed {
  return {
    status: () => 'not_used',
    cachesTrusted: () => true,
    lastKnownAllowed: () => false,
    subscribe: () => () => undefined,
    listenerPid: () => null,
    watch: () => ({ next: (timeoutMs) => delay(timeoutMs), stop: () => undefined }),
    writeAndNotify: (db, _changes, write, outbox) => (outbox ? writeAndNotify(db, [], write, { outbox }) : write(db)),
    // Nothing to announce on SQLite (on PostgreSQL without a feed, as `writeAndNotify` above).
    writeRowAndNotify: (db, _changes, write) => writeRowAndNotify(db, [], write),
    close: async () => undefined,
  };
}

export interface PostgresChangeFeedOptions {
  postgres: PostgresPoolOptions;
  logger: Logger;
  /** A `select 1` on the listening connection this often notices a silently dead connection. Default 5 s. */
  heartbeatMs?: number;
  outageGraceMs?: number;
}

/** The slice of `pg.Client` used here. */
interface PgClient {
  processID?: number;
  connect(): Promise<void>;
  query(text: string): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): void;
  on(event: 'error' | 'end', listener: (error?: Error) => void): void;
  removeAllListeners(): void;
}

/**
 * Opens the PostgreSQL feed and tries to connect once; a failure leaves it `down` and
 * reconnecting in the background (start-up does not depend on it: caches just read the database
 * meanwhile).
 */
export async function openPostgresChangeFeed(options: PostgresChangeFeedOptions): Promise<ChangeFeed> {
  const feed = new PostgresChangeFeed(options);
  await feed.connect();
  return feed;
}

class PostgresChangeFeed implements ChangeFeed {
  private readonly options: PostgresChangeFeedOptions;
  private readonly origin = randomBytes(6).toString('hex');
  private readonly listeners = new Set<(signal: FeedSignal) => void>();
  private client: PgClient | null = null;
  private state: FeedStatus = 'down';
  /** performance.now() when the channel was lost; null while live or never connected. */
  private lostAt: number | null = null;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;

  constructor(options: PostgresChangeFeedOptions) {
    this.options = options;
  }

  status(): FeedStatus {
    return this.state;
  }

  cachesTrusted(): boolean {
    return this.state === 'live';
  }

  lastKnownAllowed(): boolean {
    if (this.state === 'live') return true;
    if (this.state !== 'down' || this.lostAt === null) return false;
    return performance.now() - this.lostAt <= (this.options.outageGraceMs ?? OUTAGE_GRACE_MS);
  }

  listenerPid(): number | null {
    return this.state === 'live' ? (this.client?.processID ?? null) : null;
  }

  subscribe(listener: (signal: FeedSignal) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  watch(kind: Change['kind'], id: string): ChangeWatch {
    let pending = false;
    let wake: (() => void) | null = null;
    const unsubscribe = this.subscribe((signal) => {
      if (signal.kind === 'lost' || signal.kind === 'reconnected' || (signal.kind === kind && signal.id === id)) {
        pending = true;
        wake?.();
      }
    });
    return {
      next: (timeoutMs) => {
        if (pending) {
          pending = false;
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.max(0, timeoutMs));
          function done(): void {
            clearTimeout(timer);
            wake = null;
            pending = false;
            resolve();
          }
          wake = done;
        });
      },
      stop: () => {
        wake?.();
        unsubscribe();
      },
    };
  }

  writeAndNotify<T>(db: Database, changes: Change[], write: (db: Database) => Promise<T>, outbox?: Outbox<T>): Promise<T> {
    return writeAndNotify(db, changes, write, { origin: this.origin, outbox });
  }

  writeRowAndNotify<R>(db: Database, changes: Change[], write: RowWrite<R>): Promise<R | undefined> {
    return writeRowAndNotify(db, changes, write, { origin: this.origin });
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const client = this.client;
    this.client = null;
    this.listeners.clear();
    if (client) await client.end().catch(() => undefined);
  }

  /** One attempt to open the listening connection; on failure, the next is scheduled. */
  async connect(): Promise<void> {
    this.reconnectTimer = null;
    if (this.closed()) return;
    const { postgres, logger } = this.options;
    const pg = createRequire(import.meta.url)('pg') as { Client: new (config: Record<string, unknown>) => PgClient };
    const client = new pg.Client({
      connectionString: postgres.url,
      connectionTimeoutMillis: postgres.connectTimeoutMs,
      keepAlive: true,
      application_name: 'tokenkeeper-listener',
    });
    // Registered before connecting: an error event without a listener would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => this.deliver(message.payload ?? ''));
    this.client = client;
    try {
      await client.connect();
      const { rows } = await client.query(`select 'tokenkeeper_' || md5(current_schema()) as channel`);
      await client.query(`listen "${String(rows[0]!.channel)}"`);
    } catch (error) {
      if (this.client === client) this.client = null;
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      if (this.closed()) return;
      if (this.attempt === 0 || this.attempt % 20 === 0) logger.warn('cannot listen for cache invalidations; caches read the database until it works', { error });
      this.schedule();
      return;
    }
    if (this.closed()) {
      await client.end().catch(() => undefined);
      return;
    }
    const wasLost = this.lostAt !== null;
    this.state = 'live';
    this.lostAt = null;
    this.attempt = 0;
    this.heartbeatTimer = setInterval(() => this.heartbeat(client), this.options.heartbeatMs ?? 5_000);
    this.heartbeatTimer.unref();
    if (wasLost) logger.info('listening for cache invalidations again; caches start afresh');
    // Whatever was cached while nobody listened (after a loss, or before a first connection that
    // failed at start-up) may have missed a change: every cache starts afresh.
    this.emit({ kind: 'reconnected' });
  }

  /** Read through a method: `close()` may run while `connect()` awaits. */
  private closed(): boolean {
    return this.state === 'closed';
  }

  private heartbeat(client: PgClient): void {
    const timeoutMs = this.options.heartbeatMs ?? 5_000;
    let answered = false;
    const timer = setTimeout(() => {
      if (!answered) void client.end().catch(() => undefined);
    }, timeoutMs);
    timer.unref();
    client
      .query('select 1')
      .then(() => {
        answered = true;
      })
      .catch(() => this.lost(client))
      .finally(() => clearTimeout(timer));
  }

  private lost(client: PgClient): void {
    if (this.client !== client || this.state === 'closed') return;
    this.client = null;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    client.removeAllListeners();
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.state === 'live') {
      this.state = 'down';
      this.lostAt = performance.now();
      this.options.logger.warn('lost the cache invalidation channel; caches read the database until it is back');
      this.emit({ kind: 'lost' });
    }
    this.schedule();
  }

  /** Reconnects soon after a loss (the first attempt at once), then backs off to 2 s, with jitter. */
  private schedule(): void {
    if (this.state === 'closed' || this.reconnectTimer) return;
    const ceiling = this.attempt === 0 ? 0 : Math.min(2_000, 100 * 2 ** (this.attempt - 1));
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => void this.connect(), Math.floor(ceiling / 2 + (Math.random() * ceiling) / 2));
    this.reconnectTimer.unref();
  }

  private deliver(payload: string): void {
    const [kind, id, origin] = payload.split(':');
    if (!KINDS.includes(kind as Change['kind']) || !id) return;
    this.emit({ kind: kind as Change['kind'], id, own: origin === this.origin });
  }

  private emit(signal: FeedSignal): void {
    for (const listener of this.listeners) {
      try {
        listener(signal);
      } catch (error) {
        this.options.logger.error('a cache invalidation listener failed', { error });
      }
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
