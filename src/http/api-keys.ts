import type { Clock } from '../clock.ts';
import { hashSecret } from '../crypto/index.ts';
import { TokenkeeperError } from '../errors.ts';
import { isId, newId, randomToken } from '../ids.ts';
import {
  findActiveApiKeyByHash,
  findApiKeyById,
  insertApiKey,
  isStorageUnavailable,
  listApiKeys,
  localChangeFeed,
  revokeApiKey,
  touchApiKey,
  writeAndNotify,
  type ApiKeyRecord,
  type ChangeFeed,
  type Database,
} from '../store/index.ts';

/**
 * API keys for Tokenkeeper's own API. A key is shown once at creation; only its SHA-256 is
 * stored (keys are 256-bit random, so a fast hash is enough: there is nothing to brute-force).
 */
export async function createApiKey(db: Database, clock: Clock, name: unknown): Promise<{ key: string; record: ApiKeyRecord }> {
  if (typeof name !== 'string' || !/^[\x20-\x7e]{1,100}$/.test(name) || name.trim() === '') {
    throw new TokenkeeperError('invalid_request', 'The key name must be 1-100 printable characters.');
  }
  const key = `tk_${randomToken(32)}`;
  const record: ApiKeyRecord = {
    id: newId('key'),
    name: name.trim(),
    prefix: key.slice(0, 10),
    keyHash: hashSecret(key),
    createdAt: clock.now(),
    lastUsedAt: null,
    revokedAt: null,
  };
  await insertApiKey(db, record);
  return { key, record };
}

export { listApiKeys };

/**
 * Revokes a key and, on PostgreSQL, announces it in the same transaction: every instance's
 * verifier drops the key when the revocation commits (the CLI's `keys revoke` included).
 */
function revokeAndAnnounce(db: Database, id: string, now: number): Promise<boolean> {
  return writeAndNotify(db, [{ kind: 'api_key', id }], (trx) => revokeApiKey(trx, id, now));
}

export async function revokeApiKeyById(db: Database, clock: Clock, id: string): Promise<void> {
  if (!isId(id, 'key')) throw new TokenkeeperError('invalid_id', `"${id}" is not an API key id.`);
  if (!(await revokeAndAnnounce(db, id, clock.now()))) throw new TokenkeeperError('api_key_not_found', `No active API key "${id}".`);
}

/**
 * `DELETE /v1/api-keys/:id`: revokes the key, or answers the revocation already made, so that a
 * retried DELETE gets the same answer (idempotent, RFC 9110 §9.2.2). The conditional UPDATE
 * keeps the first revocation's time when two race.
 */
export async function revokeApiKeyIdempotently(db: Database, clock: Clock, id: string): Promise<ApiKeyRecord> {
  if (!isId(id, 'key')) throw new TokenkeeperError('invalid_id', `"${String(id).slice(0, 60)}" is not a valid API key id.`);
  await revokeAndAnnounce(db, id, clock.now());
  const record = await findApiKeyById(db, id);
  if (!record) throw new TokenkeeperError('api_key_not_found', `No API key "${id}".`);
  return record;
}

/** The API's view of a key: never the key (shown once, at creation) nor its hash. */
export function apiKeyToJson(record: ApiKeyRecord): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    created_at: iso(record.createdAt),
    last_used_at: iso(record.lastUsedAt),
    revoked_at: iso(record.revokedAt),
  };
}

/**
 * Verifies bearer API keys with a short in-process cache of successful lookups, so the token
 * hot path does not hit the database per request. A key revoked by another process (another
 * instance, or `tokenkeeper keys revoke`) stops working here when the revocation commits, on
 * PostgreSQL (announced on the invalidation channel), and within `cacheMs` in any case — one
 * second, the bound every cache keeps across processes (invariant 10) — on the injected clock;
 * one revoked through this process at once, because the revoking route calls `forget`. A second
 * per key costs one indexed read per key per second: nothing the token route notices.
 *
 * While the channel is down, every request asks the database. When the database cannot be asked
 * (PostgreSQL restarting), a key verified before is still accepted if the channel allows it
 * (`ChangeFeed.lastKnownAllowed`): a revocation is a database write, so none can have happened
 * unannounced.
 */
export class ApiKeyVerifier {
  /**
   * Keyed by the presented key itself, not its hash: a hit then costs a map lookup, no SHA-256
   * (the token route's hot path). The keys stay in this process's memory only, as the tokens the
   * token cache holds do; nothing here is logged or stored.
   */
  private readonly cache = new Map<string, { id: string; until: number }>();
  /**
   * Bumped by every `forget`. A verification that read the key from the database before a
   * revocation committed, but resumes after `forget` has run, must not cache what it read:
   * that entry would let the revoked key in for another `cacheMs`.
   */
  private generation = 0;
  private readonly db: Database;
  private readonly clock: Clock;
  private readonly cacheMs: number;
  private readonly changes: ChangeFeed;

  /** When each key's `last_used_at` was last written: at most once a minute, never awaited. */
  private readonly touchedAt = new Map<string, number>();

  constructor(db: Database, clock: Clock, options: { cacheMs?: number; changes?: ChangeFeed } = {}) {
    this.db = db;
    this.clock = clock;
    this.cacheMs = options.cacheMs ?? 1_000;
    this.changes = options.changes ?? localChangeFeed();
    this.changes.subscribe((signal) => {
      if (signal.kind === 'api_key') this.forget(signal.id);
      else if (signal.kind === 'reconnected') this.forgetAll();
    });
  }

  /** The key's id when a recent verification of it is cached; undefined when the database must say. */
  verifyCached(key: string): string | undefined {
    const cached = this.cache.get(key);
    return cached && cached.until > this.clock.now() && this.changes.cachesTrusted() ? cached.id : undefined;
  }

  async verify(key: string): Promise<string | null> {
    if (!key.startsWith('tk_') || key.length > 100) return null;
    const now = this.clock.now();
    const cached = this.verifyCached(key);
    if (cached !== undefined) return cached;
    const generation = this.generation;
    let record: ApiKeyRecord | null;
    try {
      record = await findActiveApiKeyByHash(this.db, hashSecret(key));
    } catch (error) {
      // Expired entries are kept for this: the last verification no revocation has dropped.
      const known = this.cache.get(key);
      if (known && generation === this.generation && isStorageUnavailable(error) && this.changes.lastKnownAllowed()) return known.id;
      throw error;
    }
    if (!record) {
      this.cache.delete(key);
      return null;
    }
    if (this.cache.size > 10_000) this.cache.clear();
    if (generation === this.generation) this.cache.set(key, { id: record.id, until: now + this.cacheMs });
    // `last_used_at` is bookkeeping: written at most once a minute, and never on the request's
    // path (a busy database must not slow down or fail a request whose key is valid).
    if (now - (this.touchedAt.get(record.id) ?? -Infinity) >= 60_000) {
      if (this.touchedAt.size > 10_000) this.touchedAt.clear();
      this.touchedAt.set(record.id, now);
      void touchApiKey(this.db, record.id, now).catch(() => undefined);
    }
    return record.id;
  }

  /** Drops a revoked key from the cache, and keeps verifications already under way from caching it again. */
  forget(id: string): void {
    this.generation += 1;
    for (const [key, entry] of this.cache) if (entry.id === id) this.cache.delete(key);
  }

  forgetAll(): void {
    this.generation += 1;
    this.cache.clear();
  }
}
