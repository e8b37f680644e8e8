import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * oidc-provider's storage for one sandbox instance: in memory, optionally written through to a file.
 *
 * Why not the provider's own memory adapter: that one shares one module-level store between
 * every Provider in the process (two sandboxes in one test run would see each other's tokens),
 * caps it at 1,000 entries (a load test would silently evict live refresh tokens), prints a
 * "development only" warning, and cannot list grants by account, which `revokeGrants(accountId)`
 * needs. This store is per instance, unbounded but self-pruning, and uses no timers so it never
 * keeps a process alive. `tokenkeeper serve` gives it a `persistence` (state-database.ts) so
 * that a restart does not forget the grants behind every sandbox connection.
 */

interface Entry {
  payload: AdapterPayload;
  /** Milliseconds since the epoch; Infinity for entries without a lifetime. */
  expiresAt: number;
}

/** One stored artifact as it is saved and restored: `key` is `<model>:<id>`. */
export interface StoredEntry {
  key: string;
  payload: AdapterPayload;
  /** Milliseconds since the epoch; null for entries without a lifetime. */
  expiresAt: number | null;
}

/**
 * What outlives a restart when the sandbox keeps a state file: the grants and the tokens issued
 * under them, consumed refresh tokens included (presenting one again must still revoke the grant,
 * RFC 9700 §4.14.2). Sessions, interactions and authorization codes stay in memory: the cookies
 * that point at sessions are signed with keys made per start anyway, and a login or a code is
 * seconds long.
 */
export const PERSISTED_MODELS: ReadonlySet<string> = new Set(['Grant', 'RefreshToken', 'AccessToken', 'ClientCredentials']);

/**
 * Where entries of PERSISTED_MODELS are written through as they change. Synchronous on purpose:
 * oidc-provider answers a token request only after the adapter returns, so what it issued or
 * consumed is saved before the client sees it, and no await can interleave two requests.
 */
export interface SandboxPersistence {
  put(entry: StoredEntry): void;
  delete(key: string): void;
}

export interface SandboxStoreOptions {
  persistence?: SandboxPersistence;
}

/** Models whose artifacts belong to a grant and die with it (RFC 9700 §4.14.2). */
const GRANT_MEMBERS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/**
 * Entries are kept a little past their `exp` so that the provider can still find an expired
 * refresh token and answer "refresh token is expired" rather than "not found"; the provider
 * checks `exp` itself, so keeping them longer never makes an expired artifact usable.
 */
const EXPIRED_GRACE_MS = 60_000;

/** Prune expired entries every so many writes: bounded memory without a timer. */
const PRUNE_EVERY_WRITES = 500;

export class SandboxStore {
  readonly #entries = new Map<string, Entry>();
  /** grant id → keys of the artifacts issued under it. */
  readonly #grantMembers = new Map<string, Set<string>>();
  readonly #sessionByUid = new Map<string, string>();
  readonly #keyByUserCode = new Map<string, string>();
  readonly #persistence: SandboxPersistence | undefined;
  #writes = 0;

  constructor(options: SandboxStoreOptions = {}) {
    this.#persistence = options.persistence;
  }

  /** The factory oidc-provider's `adapter` option expects: one adapter per model name. */
  adapterFactory(): (model: string) => Adapter {
    return (model: string) => new SandboxModelAdapter(this, model);
  }

  get(key: string): AdapterPayload | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  set(model: string, id: string, payload: AdapterPayload, expiresInSeconds: number | undefined): void {
    const expiresAt = typeof expiresInSeconds === 'number' ? Date.now() + expiresInSeconds * 1000 + EXPIRED_GRACE_MS : Infinity;
    this.#put(model, id, payload, expiresAt);
    this.#persist(`${model}:${id}`);
    if (++this.#writes % PRUNE_EVERY_WRITES === 0) this.#prune();
  }

  /** Writes an entry through to the persistence, after a change made in place (`consume`). */
  touch(key: string): void {
    this.#persist(key);
  }

  #persist(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry || !this.#persistence || !PERSISTED_MODELS.has(modelOf(key))) return;
    this.#persistence.put({ key, payload: entry.payload, expiresAt: Number.isFinite(entry.expiresAt) ? entry.expiresAt : null });
  }

  #put(model: string, id: string, payload: AdapterPayload, expiresAt: number): void {
    const key = `${model}:${id}`;
    this.#forget(key);
    this.#entries.set(key, { payload, expiresAt });
    if (GRANT_MEMBERS.has(model) && typeof payload.grantId === 'string') {
      let members = this.#grantMembers.get(payload.grantId);
      if (!members) this.#grantMembers.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
    if (model === 'Session' && typeof payload.uid === 'string') this.#sessionByUid.set(payload.uid, id);
    if (typeof payload.userCode === 'string') this.#keyByUserCode.set(payload.userCode, key);
  }

  /** Puts back entries read from the persistence (without writing them again); expired ones are dropped. */
  restore(entries: readonly StoredEntry[]): void {
    const now = Date.now();
    for (const { key, payload, expiresAt } of entries) {
      const separator = key.indexOf(':');
      if (separator <= 0 || (expiresAt !== null && expiresAt <= now)) continue;
      this.#put(key.slice(0, separator), key.slice(separator + 1), payload, expiresAt ?? Infinity);
    }
  }

  delete(key: string): void {
    if (!this.#forget(key)) return;
    if (this.#persistence && PERSISTED_MODELS.has(modelOf(key))) this.#persistence.delete(key);
  }

  /** Drops an entry and its index entries from memory; false if there was none. */
  #forget(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#entries.delete(key);
    const { grantId, uid, userCode } = entry.payload;
    if (typeof grantId === 'string') {
      const members = this.#grantMembers.get(grantId);
      members?.delete(key);
      if (members?.size === 0) this.#grantMembers.delete(grantId);
    }
    if (key.startsWith('Session:') && typeof uid === 'string' && this.#sessionByUid.get(uid) === key.slice(8)) {
      this.#sessionByUid.delete(uid);
    }
    if (typeof userCode === 'string' && this.#keyByUserCode.get(userCode) === key) this.#keyByUserCode.delete(userCode);
    return true;
  }

  sessionIdByUid(uid: string): string | undefined {
    return this.#sessionByUid.get(uid);
  }

  keyByUserCode(userCode: string): string | undefined {
    return this.#keyByUserCode.get(userCode);
  }

  /** Deletes every token and code issued under a grant, or only those of one model. */
  revokeMembers(grantId: string, model?: string): void {
    for (const key of [...(this.#grantMembers.get(grantId) ?? [])]) {
      if (model === undefined || key.startsWith(`${model}:`)) this.delete(key);
    }
  }

  /** Deletes the grant and every token issued under it. */
  revokeGrant(grantId: string): void {
    this.revokeMembers(grantId);
    this.delete(`Grant:${grantId}`);
  }

  /** Revokes every live grant, or those of one account; returns how many were revoked. */
  revokeGrants(accountId?: string): number {
    const grantIds: string[] = [];
    for (const [key, entry] of this.#entries) {
      if (!key.startsWith('Grant:') || entry.expiresAt <= Date.now()) continue;
      if (accountId === undefined || entry.payload.accountId === accountId) grantIds.push(key.slice(6));
    }
    for (const grantId of grantIds) this.revokeGrant(grantId);
    return grantIds.length;
  }

  /**
   * Deletes every access token issued so far (client-credentials tokens too, when no account is
   * named), or one account's, leaving grants and refresh tokens alone: the demo API then refuses
   * them as a provider refuses a token it stopped honouring before its expiry, and a refresh works.
   */
  dropAccessTokens(accountId?: string): number {
    const keys: string[] = [];
    for (const [key, entry] of this.#entries) {
      const model = modelOf(key);
      if (model === 'AccessToken' && (accountId === undefined || entry.payload.accountId === accountId)) keys.push(key);
      else if (model === 'ClientCredentials' && accountId === undefined) keys.push(key);
    }
    for (const key of keys) this.delete(key);
    return keys.length;
  }

  #prune(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.delete(key);
  }
}

class SandboxModelAdapter implements Adapter {
  readonly #store: SandboxStore;
  readonly #model: string;

  constructor(store: SandboxStore, model: string) {
    this.#store = store;
    this.#model = model;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    this.#store.set(this.#model, id, payload, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#store.get(`${this.#model}:${id}`);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = this.#store.sessionIdByUid(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const key = this.#store.keyByUserCode(userCode);
    return key === undefined ? undefined : this.#store.get(key);
  }

  /**
   * Marks a one-time artifact (authorization code, rotated refresh token) as used. The payload
   * stays stored: presenting a consumed refresh token again is how reuse is detected.
   */
  async consume(id: string): Promise<void> {
    const key = `${this.#model}:${id}`;
    const payload = this.#store.get(key);
    if (!payload) return;
    payload.consumed = Math.floor(Date.now() / 1000);
    this.#store.touch(key);
  }

  async destroy(id: string): Promise<void> {
    this.#store.delete(`${this.#model}:${id}`);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    // oidc-provider calls this once per model it wants revoked (it may spare some, e.g. when
    // only an access token is revoked), so only this model's artifacts go. The Grant record
    // itself is destroyed separately, through `destroy`.
    this.#store.revokeMembers(grantId, this.#model);
  }
}

function modelOf(key: string): string {
  return key.slice(0, key.indexOf(':'));
}
