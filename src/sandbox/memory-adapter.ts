import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * oidc-provider's storage for one sandbox instance, in memory.
 *
 * Why not the provider's own memory adapter: that one shares one module-level store between
 * every Provider in the process (two sandboxes in one test run would see each other's tokens),
 * caps it at 1,000 entries (a load test would silently evict live refresh tokens), prints a
 * "development only" warning, and cannot list grants by account, which `revokeGrants(accountId)`
 * needs. This store is per instance, unbounded but self-pruning, and uses no timers so it never
 * keeps a process alive.
 */

interface Entry {
  payload: AdapterPayload;
  /** Milliseconds since the epoch; Infinity for entries without a lifetime. */
  expiresAt: number;
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
  #writes = 0;

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
    const key = `${model}:${id}`;
    this.delete(key);
    const expiresAt = typeof expiresInSeconds === 'number' ? Date.now() + expiresInSeconds * 1000 + EXPIRED_GRACE_MS : Infinity;
    this.#entries.set(key, { payload, expiresAt });
    if (GRANT_MEMBERS.has(model) && typeof payload.grantId === 'string') {
      let members = this.#grantMembers.get(payload.grantId);
      if (!members) this.#grantMembers.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
    if (model === 'Session' && typeof payload.uid === 'string') this.#sessionByUid.set(payload.uid, id);
    if (typeof payload.userCode === 'string') this.#keyByUserCode.set(payload.userCode, key);
    if (++this.#writes % PRUNE_EVERY_WRITES === 0) this.#prune();
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
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
    const payload = this.#store.get(`${this.#model}:${id}`);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
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
