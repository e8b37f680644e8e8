import type { ChangeFeed } from '../store/index.ts';
import type { ConnectionRecord } from '../store/index.ts';
import type { StoredTokens } from './stored-tokens.ts';

export type { StoredTokens };

export interface CacheEntry {
  record: ConnectionRecord;
  tokens: StoredTokens | null;
  loadedAt: number;
}

/** What the cache asks the invalidation channel (store/change-feed.ts) before answering. */
export type CacheTrust = Pick<ChangeFeed, 'cachesTrusted' | 'lastKnownAllowed'>;

const ALWAYS: CacheTrust = { cachesTrusted: () => true, lastKnownAllowed: () => false };

/**
 * In-process cache of connection rows with their decrypted tokens, so a valid token is served
 * without touching the database or decrypting. Every write this process makes replaces or drops
 * the entry; a write by another process drops it through the invalidation channel, and
 * `maxAgeMs` (1 s by default) bounds how long any entry is served whatever happens to that
 * channel (invariant 10). While the channel is down (`trust.cachesTrusted()` false) `get` serves
 * nothing: every caller reads the row.
 *
 * Entries past their age are kept as the *last known* row: when the database cannot be read at
 * all, `lastKnown` may answer with one no invalidation has dropped (see `CacheTrust`).
 *
 * A read that started before a delete must not put the deleted row back when it finishes: every
 * `delete` bumps a generation, and `set` with a generation taken before the read is refused once
 * any delete happened in between. (A global counter is cruder than one per id, but a refused
 * `set` only costs one later cache miss.)
 */
export class TokenCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly trust: CacheTrust;
  private generation = 0;

  constructor(options: { maxAgeMs: number; maxEntries?: number; trust?: CacheTrust }) {
    this.maxAgeMs = options.maxAgeMs;
    this.maxEntries = options.maxEntries ?? 50_000;
    this.trust = options.trust ?? ALWAYS;
  }

  /** The entry if it is younger than `maxAgeMs` and the invalidation channel is live. */
  get(id: string, now: number): CacheEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry || !this.trust.cachesTrusted()) return undefined;
    if (now - entry.loadedAt > this.maxAgeMs || now < entry.loadedAt) return undefined;
    return entry;
  }

  /**
   * The last row read for this connection, whatever its age, when the row cannot be read now and
   * the channel says a kept entry is still current (PostgreSQL only); undefined otherwise.
   */
  lastKnown(id: string): CacheEntry | undefined {
    return this.trust.lastKnownAllowed() ? this.entries.get(id) : undefined;
  }

  /** Take before reading a row from storage; pass to `set` with what was read. */
  currentGeneration(): number {
    return this.generation;
  }

  set(entry: CacheEntry, readAtGeneration?: number): void {
    if (readAtGeneration !== undefined && readAtGeneration !== this.generation) return;
    const current = this.entries.get(entry.record.id);
    // Never replace a newer version with an older read that finished later.
    if (current && current.record.version > entry.record.version) return;
    if (this.entries.size >= this.maxEntries && !current) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(entry.record.id, entry);
  }

  delete(id: string): void {
    this.generation++;
    this.entries.delete(id);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
