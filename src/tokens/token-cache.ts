import type { ConnectionRecord } from '../store/index.ts';

/** The decrypted secrets of a connection, as sealed in `connections.tokens_sealed`. */
export interface StoredTokens {
  access_token: string;
  refresh_token: string | null;
  id_token: string | null;
}

export interface CacheEntry {
  record: ConnectionRecord;
  tokens: StoredTokens | null;
  loadedAt: number;
}

/**
 * In-process cache of connection rows with their decrypted tokens, so a valid token is served
 * without touching the database or decrypting. Every write this process makes replaces or drops
 * the entry; `maxAgeMs` bounds how long a row another process changed can be served from here.
 */
export class TokenCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;

  constructor(options: { maxAgeMs: number; maxEntries?: number }) {
    this.maxAgeMs = options.maxAgeMs;
    this.maxEntries = options.maxEntries ?? 50_000;
  }

  get(id: string, now: number): CacheEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (now - entry.loadedAt > this.maxAgeMs) {
      this.entries.delete(id);
      return undefined;
    }
    return entry;
  }

  set(entry: CacheEntry): void {
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
    this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }
}
