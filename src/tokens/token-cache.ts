import type { ConnectionRecord } from '../store/index.ts';
import type { StoredTokens } from './stored-tokens.ts';

export type { StoredTokens };

export interface CacheEntry {
  record: ConnectionRecord;
  tokens: StoredTokens | null;
  loadedAt: number;
}

/**
 * In-process cache of connection rows with their decrypted tokens, so a valid token is served
 * without touching the database or decrypting. Every write this process makes replaces or drops
 * the entry; `maxAgeMs` (1 s by default) bounds how long a row another process changed can be
 * served from here (invariant 10).
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
  private generation = 0;

  constructor(options: { maxAgeMs: number; maxEntries?: number }) {
    this.maxAgeMs = options.maxAgeMs;
    this.maxEntries = options.maxEntries ?? 50_000;
  }

  get(id: string, now: number): CacheEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (now - entry.loadedAt > this.maxAgeMs || now < entry.loadedAt) {
      this.entries.delete(id);
      return undefined;
    }
    return entry;
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
