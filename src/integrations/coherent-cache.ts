import type { Clock } from '../clock.ts';
import { isStorageUnavailable, type ChangeFeed } from '../store/index.ts';

/** How long a cached integration is trusted before it is checked against its row again. */
export const INTEGRATION_COHERENCE_MS = 1_000;

export interface CoherentCacheOptions<T> {
  clock: Clock;
  /** Trust an entry this long after it was last confirmed against the database. */
  maxAgeMs: number;
  /** Builds the value from the row (and whatever else it takes: discovery, decryption). */
  load(id: string): Promise<T>;
  /** The row's current `updated_at`, or null when it is gone: one cheap query. */
  currentVersion(id: string): Promise<number | null>;
  /** The `updated_at` of the row a value was built from. */
  versionOf(value: T): number;
  /** What to throw when the row is gone. */
  notFound(id: string): Error;
  /**
   * The invalidation channel (store/change-feed.ts): while it is down nothing is served without
   * asking the database; while the database cannot be asked, it says whether a kept entry may
   * answer. Default: trusted for `maxAgeMs`, never served past it (SQLite).
   */
  trust?: Pick<ChangeFeed, 'cachesTrusted' | 'lastKnownAllowed'>;
}

interface Entry<T> {
  value: T;
  version: number;
  /** Clock time at which the row was last confirmed to have `version` (the check's start). */
  checkedAt: number;
}

/**
 * A per-id cache of values built from an integration row, coherent with the database
 * (invariant 10): changes made through this process drop the entry at once (`invalidate`);
 * changes made by another process are seen within `maxAgeMs`, because an older entry is
 * confirmed against the row's `updated_at` before it is served again.
 *
 * The cached case is a Map lookup and one time comparison (it sits on the token hot path).
 * An expired entry is checked once for all concurrent callers: they share one promise rather
 * than each querying, and a check that finds the row unchanged keeps the built value (no second
 * discovery, no second decryption).
 *
 * With a live invalidation channel (PostgreSQL), another process's change drops the entry the
 * moment it commits; with the channel down, every `get` asks the row's `updated_at` (the value is
 * reused when it has not moved). When the database cannot be asked at all, an entry no
 * invalidation has dropped answers if the channel allows it (`lastKnownAllowed`).
 *
 * The race it guards: a load or check that started before an `invalidate` must not store what it
 * read, or the change this process just made would be hidden behind an entry read before it.
 * Every invalidation bumps a generation; a result is stored only if none happened meanwhile.
 * (One counter for all ids: an invalidation of another id costs at most one extra load.)
 */
export class CoherentCache<T> {
  private readonly options: CoherentCacheOptions<T>;
  private readonly entries = new Map<string, Entry<T>>();
  private readonly pending = new Map<string, Promise<T>>();
  private generation = 0;

  constructor(options: CoherentCacheOptions<T>) {
    this.options = options;
  }

  get(id: string): Promise<T> {
    const entry = this.entries.get(id);
    if (entry !== undefined && this.trusted()) {
      // A negative age (the clock was set back) is not trusted either.
      const age = this.options.clock.now() - entry.checkedAt;
      if (age >= 0 && age < this.options.maxAgeMs) return Promise.resolve(entry.value);
    }
    return this.pending.get(id) ?? this.fetch(id, entry);
  }

  /** The value when its entry is fresh, without a promise (the token hot path); else undefined. */
  peek(id: string): T | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined || !this.trusted()) return undefined;
    const age = this.options.clock.now() - entry.checkedAt;
    return age >= 0 && age < this.options.maxAgeMs ? entry.value : undefined;
  }

  private trusted(): boolean {
    return this.options.trust?.cachesTrusted() ?? true;
  }

  /** Drops one entry (or all): the next `get` reads the row again. */
  invalidate(id?: string): void {
    this.generation += 1;
    if (id === undefined) {
      this.entries.clear();
      this.pending.clear();
    } else {
      this.entries.delete(id);
      this.pending.delete(id);
    }
  }

  private fetch(id: string, entry: Entry<T> | undefined): Promise<T> {
    const generation = this.generation;
    const promise = this.check(id, entry, generation).catch((error: unknown) => {
      // The database cannot be asked: the kept entry, if nothing has invalidated it meanwhile.
      const kept = this.entries.get(id);
      if (kept !== undefined && this.generation === generation && isStorageUnavailable(error) && this.options.trust?.lastKnownAllowed()) return kept.value;
      throw error;
    });
    this.pending.set(id, promise);
    const settle = (): void => {
      if (this.pending.get(id) === promise) this.pending.delete(id);
    };
    promise.then(settle, settle);
    return promise;
  }

  private async check(id: string, entry: Entry<T> | undefined, generation: number): Promise<T> {
    const { clock, currentVersion, load, versionOf, notFound } = this.options;
    const checkedAt = clock.now();
    if (entry !== undefined) {
      const version = await currentVersion(id);
      if (version === null) {
        if (this.generation === generation) this.entries.delete(id);
        throw notFound(id);
      }
      if (version === entry.version) {
        this.store(id, { ...entry, checkedAt }, generation);
        return entry.value;
      }
    }
    const value = await load(id);
    this.store(id, { value, version: versionOf(value), checkedAt }, generation);
    return value;
  }

  private store(id: string, entry: Entry<T>, generation: number): void {
    if (this.generation === generation) this.entries.set(id, entry);
  }
}
