import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Logger } from '../logger.ts';
import type { SandboxPersistence, StoredEntry } from './memory-adapter.ts';

/** The file `tokenkeeper serve` keeps the sandbox's state in, beside its own database. */
export const SANDBOX_STATE_FILE = 'sandbox-state.db';

export type SigningKeys = { keys: Record<string, unknown>[] };

/**
 * The sandbox's grants, tokens and signing key in a small SQLite file of its own, so that
 * restarting `tokenkeeper serve` does not send every sandbox connection to `needs_reauth`.
 *
 * DEVELOPMENT ONLY. The file holds live sandbox tokens and the sandbox's private signing key in
 * plain text (mode 0600): acceptable for a local test provider whose every secret is published
 * (its client secret is in the README), and nowhere else. None of Tokenkeeper's own tokens go here.
 *
 * Why SQLite rather than a JSON file rewritten on change: consumed refresh tokens must be kept
 * for reuse detection for as long as they would have lived (14 days), so a busy development
 * instance holds thousands of entries, and rewriting all of them on every refresh would make
 * each refresh slower the longer the sandbox runs. Here each change is one statement, and a
 * crash leaves the last committed state, never half of one. WAL with `synchronous=NORMAL`
 * survives a crash of the process (not of the machine) without an fsync per token.
 */
export class SandboxStateDatabase implements SandboxPersistence {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #logger: Logger;
  readonly #upsert: StatementSync;
  readonly #delete: StatementSync;
  #failed = false;

  private constructor(path: string, db: DatabaseSync, logger: Logger) {
    this.path = path;
    this.#db = db;
    this.#logger = logger;
    this.#upsert = db.prepare('insert into entries (key, payload, expires_at) values (?, ?, ?) on conflict (key) do update set payload = excluded.payload, expires_at = excluded.expires_at');
    this.#delete = db.prepare('delete from entries where key = ?');
  }

  /**
   * Opens (or creates) the file. One that is not a sandbox state database (corrupt, hand-edited)
   * is moved aside to `<file>.unreadable` with a warning and the sandbox starts empty: a
   * development provider should start, not refuse to.
   *
   * `node:sqlite` is loaded here, not at the top: a sandbox without a state file (tests, the
   * `tokenkeeper sandbox` command, embedding) never loads it.
   */
  static async open(path: string, logger: Logger): Promise<SandboxStateDatabase> {
    const { DatabaseSync } = await import('node:sqlite');
    const attempt = (): SandboxStateDatabase => {
      const db = openStateDatabase(new DatabaseSync(createOwnerOnly(path)));
      try {
        return new SandboxStateDatabase(path, db, logger);
      } catch (error) {
        db.close();
        throw error;
      }
    };
    try {
      return attempt();
    } catch (error) {
      if (!existsSync(path)) throw error;
      const aside = `${path}.unreadable`;
      renameSync(path, aside);
      for (const suffix of ['-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
      logger.warn('the sandbox state file is unreadable; starting the sandbox empty (sandbox connections will need to reconnect)', { moved_to: aside, error });
      return attempt();
    }
  }

  /** The live entries; expired ones are deleted on the way. Rows that do not parse are skipped. */
  loadEntries(now: number): StoredEntry[] {
    this.#db.prepare('delete from entries where expires_at <= ?').run(now);
    const entries: StoredEntry[] = [];
    for (const row of this.#db.prepare('select key, payload, expires_at from entries').all() as { key: string; payload: string; expires_at: number | null }[]) {
      try {
        const payload: unknown = JSON.parse(row.payload);
        if (payload && typeof payload === 'object' && !Array.isArray(payload)) {
          entries.push({ key: row.key, payload: payload as StoredEntry['payload'], expiresAt: row.expires_at });
        }
      } catch {
        // A hand-edited row: leave it out rather than refuse to start.
      }
    }
    return entries;
  }

  /** The saved signing keys, or new ones from `generate`, saved for the next start. */
  signingKeys(generate: () => Promise<SigningKeys>): Promise<SigningKeys> {
    const row = this.#db.prepare('select jwks from signing_keys where id = 1').get() as { jwks: string } | undefined;
    if (row) {
      try {
        const saved = JSON.parse(row.jwks) as SigningKeys;
        if (Array.isArray(saved?.keys) && saved.keys.length > 0) return Promise.resolve(saved);
      } catch {
        // fall through: make new keys
      }
    }
    return generate().then((keys) => {
      this.#db.prepare('insert into signing_keys (id, jwks) values (1, ?) on conflict (id) do update set jwks = excluded.jwks').run(JSON.stringify(keys));
      return keys;
    });
  }

  put(entry: StoredEntry): void {
    this.#write(() => this.#upsert.run(entry.key, JSON.stringify(entry.payload), entry.expiresAt));
  }

  delete(key: string): void {
    this.#write(() => this.#delete.run(key));
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /**
   * A failed write (disk full, file made read-only) is logged once and the sandbox carries on
   * in memory: its tokens keep working until the next restart, which would otherwise be the
   * moment the developer learns of it.
   */
  #write(statement: () => void): void {
    // After close(): a request cut off by the shutdown; its client never saw the answer.
    if (!this.#db.isOpen) return;
    try {
      statement();
    } catch (error) {
      if (this.#failed) return;
      this.#failed = true;
      this.#logger.error('could not save the sandbox state; a restart will forget the latest sandbox tokens', { path: this.path, error });
    }
  }
}

/**
 * Creates the file empty with owner-only permissions before SQLite opens it: SQLite gives its
 * -wal and -shm files the database file's permissions.
 */
function createOwnerOnly(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '', { mode: 0o600 });
  }
  chmodSync(path, 0o600);
  return path;
}

function openStateDatabase(db: DatabaseSync): DatabaseSync {
  try {
    db.exec(`
      pragma busy_timeout = 1000;
      pragma journal_mode = wal;
      pragma synchronous = normal;
      create table if not exists entries (key text primary key, payload text not null, expires_at integer) strict;
      create table if not exists signing_keys (id integer primary key check (id = 1), jwks text not null) strict;
    `);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
