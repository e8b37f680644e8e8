import type { Clock } from '../clock.ts';
import type { KeyRing } from '../crypto/index.ts';
import { appEvent } from '../delivery/index.ts';
import { isTokenkeeperError, TokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { newId } from '../ids.ts';
import { isDiscoveryCached, resolveProviderClient, type ProviderClient } from '../oauth/index.ts';
import { getProvider, type IntegrationSettings, type ProviderEntry } from '../providers/index.ts';
import {
  countConnectionsOfIntegration,
  deleteIntegration,
  findIntegrationById,
  findIntegrationByKey,
  findIntegrationUpdatedAt,
  insertIntegration,
  listConnections,
  listIntegrations,
  localChangeFeed,
  markIntegrationFailing,
  nextUpdatedAt,
  updateIntegration,
  type ChangeFeed,
  type Database,
  type IntegrationRecord,
  type Outbox,
} from '../store/index.ts';
import { CoherentCache, INTEGRATION_COHERENCE_MS } from './coherent-cache.ts';
import { connectionAppEvent } from '../tokens/connection-app-events.ts';
import { integrationToJson } from './integration-json.ts';
import { validateIntegrationInput, type ValidIntegrationInput } from './integration-input.ts';

/** An integration as stored plus its catalog entry: no discovery, no secret decrypted. */
export interface IntegrationView {
  record: IntegrationRecord;
  provider: ProviderEntry;
}

/** An integration ready for provider calls: endpoints resolved (discovery done), secret decrypted. */
export interface ResolvedIntegration extends IntegrationView {
  client: ProviderClient;
}

/** Wraps one outbound call of an integration (its rate limiter and circuit breaker, from tokens/). */
export type OutboundCallGuard = <T>(integrationId: string, call: () => Promise<T>) => Promise<T>;

/** What the provider said when it rejected the integration's own credentials. */
export interface IntegrationFailureReport {
  /** The provider's error code: `invalid_client`, `unauthorized_client`, or e.g. `http_401`. */
  code: string;
  /** The provider's description (`error_description`), shown to the operator. */
  message: string;
  /**
   * The `updated_at` of the integration the failed call was made with. When the row is newer
   * (the operator changed it while the call was in flight), the failure is about credentials
   * that are no longer used and is ignored.
   */
  recordUpdatedAt?: number;
}

/** Enough of a provider's error description for the operator; a provider cannot bloat the row. */
const MAX_FAILURE_MESSAGE_LENGTH = 500;
/** Compare-and-set attempts of an update before giving up on a row that keeps changing. */
const UPDATE_ATTEMPTS = 5;

export interface IntegrationServiceOptions {
  db: Database;
  keyRing: KeyRing;
  clock: Clock;
  events: EventBus;
  /** Where providers send users back: `<public url>/oauth/callback`. */
  callbackUrl: string;
  defaultRefreshBufferSeconds: number;
  /** Token-endpoint timeout used as the default for provider calls. */
  requestTimeoutMs: number;
  fetch?: typeof fetch;
  /**
   * Wraps the discovery (metadata) request made while resolving an integration, so it goes
   * through the same per-integration rate limiter and circuit breaker as every other outbound
   * call (invariant 8). Without it, discovery is sent unguarded.
   */
  guard?: OutboundCallGuard;
  /**
   * The cross-process invalidation channel (store/change-feed.ts): changes made here are
   * announced on it, changes announced by other processes drop this process's entries.
   */
  changes?: ChangeFeed;
}

/**
 * Integrations: an operator's configured use of a provider. Holds the only copy of the
 * decrypted client secret in memory, inside the resolved provider client.
 *
 * Two caches, both coherent with the database (invariant 10; see CoherentCache): views (row and
 * catalog entry, for reads that must work while the provider is down) and resolved clients (for
 * provider calls). A change made here drops both at once; one made by another process drops
 * them when it commits (announced on `changes`, PostgreSQL) and is seen within
 * INTEGRATION_COHERENCE_MS whatever happens to the announcement, so no process keeps refreshing
 * with a disabled integration or an old client secret.
 */
export class IntegrationService {
  private readonly options: IntegrationServiceOptions;
  private readonly views: CoherentCache<IntegrationView>;
  private readonly resolved: CoherentCache<ResolvedIntegration>;
  private readonly changes: ChangeFeed;

  constructor(options: IntegrationServiceOptions) {
    this.options = options;
    this.changes = options.changes ?? localChangeFeed();
    this.changes.subscribe((signal) => {
      if (signal.kind === 'integration' && !signal.own) this.invalidate(signal.id);
      else if (signal.kind === 'reconnected') this.invalidate();
    });
    const coherence = {
      trust: this.changes,
      clock: options.clock,
      maxAgeMs: INTEGRATION_COHERENCE_MS,
      currentVersion: (id: string) => findIntegrationUpdatedAt(options.db, id),
      versionOf: (value: IntegrationView) => value.record.updatedAt,
      notFound: (id: string) => new TokenkeeperError('integration_not_found', `No integration "${id}".`),
    };
    this.views = new CoherentCache<IntegrationView>({ ...coherence, load: (id) => this.loadView(id) });
    this.resolved = new CoherentCache<ResolvedIntegration>({ ...coherence, load: (id) => this.load(id) });
  }

  /**
   * A write of one integration row, announced to other processes in its transaction, with the
   * application events it causes (`integration.failing`, `.recovered`) written in it too.
   */
  private write<T>(id: string, write: (db: Database) => Promise<T>, outbox?: Outbox<T>): Promise<T> {
    return this.changes.writeAndNotify(this.options.db, [{ kind: 'integration', id }], write, outbox);
  }

  private secretAad(id: string): string {
    return `integrations:${id}:client_secret`;
  }

  async create(body: unknown): Promise<IntegrationRecord> {
    const input = validateIntegrationInput(body, { partial: false });
    const { db, keyRing, clock } = this.options;
    if (await findIntegrationByKey(db, input.key!)) {
      throw new TokenkeeperError('integration_exists', `An integration with key "${input.key}" already exists.`);
    }
    const provider = getProvider(input.provider!)!;
    const id = newId('int');
    const now = clock.now();
    const record: IntegrationRecord = {
      id,
      key: input.key!,
      provider: provider.key,
      displayName: input.displayName ?? null,
      clientId: input.clientId!,
      clientSecretSealed: input.clientSecret ? keyRing.seal(input.clientSecret, this.secretAad(id)) : null,
      scopes: input.scopes ?? provider.defaultScopes,
      redirectUri: input.redirectUri ?? null,
      settings: (input.settings ?? {}) as Record<string, unknown>,
      refreshBufferSeconds: input.refreshBufferSeconds ?? this.options.defaultRefreshBufferSeconds,
      systemGrant: input.systemGrant ?? null,
      systemScopes: input.systemScopes ?? null,
      enabled: input.enabled ?? true,
      actionsEnabled: input.actionsEnabled ?? true,
      failingSince: null,
      failureCode: null,
      failureMessage: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await insertIntegration(db, record);
    } catch (error) {
      // Two creates racing for one key: the unique index lets one win.
      if (await findIntegrationByKey(db, record.key)) {
        throw new TokenkeeperError('integration_exists', `An integration with key "${record.key}" already exists.`);
      }
      throw error;
    }
    this.options.events.emit('integration.created', { integrationKey: record.key, provider: record.provider });
    return record;
  }

  /**
   * Applies a partial update. Any update is the operator saying "fixed": it clears a failing
   * state (`integration.recovered`), so refreshes resume. `PATCH` with an empty body is the way
   * to say "try again" without changing anything.
   *
   * Written with compare-and-set on `updated_at`: if the row changed between our read and our
   * write (another PATCH, a refresh marking it failing), the update is recomputed from the new
   * row instead of overwriting that change, and the recovery is reported if it was failing.
   */
  async update(key: string, body: unknown): Promise<IntegrationRecord> {
    let current = await this.getByKey(key);
    const input = validateIntegrationInput(body, { partial: true, currentProvider: current.provider });
    // Sealed once: the associated data is the id, which does not change.
    const sealedSecret = typeof input.clientSecret === 'string'
      ? this.options.keyRing.seal(input.clientSecret, this.secretAad(current.id))
      : input.clientSecret;
    for (let attempt = 1; ; attempt += 1) {
      const next = this.applyUpdate(current, input, sealedSecret);
      const wasFailing = current.failingSince !== null;
      const recovered = (updated: boolean) =>
        updated && wasFailing ? [appEvent('integration.recovered', { integration: integrationToJson(next, this.options.callbackUrl) }, this.options.clock.now())] : [];
      if (await this.write(current.id, (db) => updateIntegration(db, next, current.updatedAt), recovered)) {
        this.invalidate(current.id);
        this.options.events.emit('integration.updated', { integrationKey: next.key, provider: next.provider });
        if (current.failingSince !== null) this.options.events.emit('integration.recovered', { integrationKey: next.key, provider: next.provider });
        return next;
      }
      if (attempt >= UPDATE_ATTEMPTS) {
        throw new TokenkeeperError('integration_changed', `The integration "${key}" kept changing while it was being updated; try again.`);
      }
      current = await this.getByKey(key);
    }
  }

  private applyUpdate(current: IntegrationRecord, input: ValidIntegrationInput, sealedSecret: string | null | undefined): IntegrationRecord {
    return {
      ...current,
      displayName: input.displayName !== undefined ? input.displayName : current.displayName,
      clientId: input.clientId ?? current.clientId,
      clientSecretSealed: sealedSecret === undefined ? current.clientSecretSealed : sealedSecret,
      scopes: input.scopes ?? current.scopes,
      redirectUri: input.redirectUri !== undefined ? input.redirectUri : current.redirectUri,
      settings: input.settings !== undefined ? (input.settings as Record<string, unknown>) : current.settings,
      refreshBufferSeconds: input.refreshBufferSeconds ?? current.refreshBufferSeconds,
      systemGrant: input.systemGrant !== undefined ? input.systemGrant : current.systemGrant,
      systemScopes: input.systemScopes !== undefined ? input.systemScopes : current.systemScopes,
      enabled: input.enabled ?? current.enabled,
      actionsEnabled: input.actionsEnabled ?? current.actionsEnabled,
      failingSince: null,
      failureCode: null,
      failureMessage: null,
      updatedAt: nextUpdatedAt(current.updatedAt, this.options.clock.now()),
    };
  }

  /**
   * The provider rejected the integration's own credentials (`invalid_client`,
   * `unauthorized_client`, HTTP 401 from the token endpoint; RFC 6749 §5.2): the operator's
   * fault, not the users'. Records it on the integration (first time kept, newest provider error
   * shown), drops this process's caches and, through `updated_at`, every other process's.
   * Emits `integration.failing` once per episode, whichever process saw it first. Connections
   * are not touched. Idempotent; a failure about credentials replaced meanwhile is ignored.
   */
  async markFailing(id: string, failure: IntegrationFailureReport): Promise<void> {
    const code = cleanFailureText(failure.code, 100);
    const message = cleanFailureText(failure.message, MAX_FAILURE_MESSAGE_LENGTH);
    const outbox: Outbox<Awaited<ReturnType<typeof markIntegrationFailing>>> = async (marked, db) => {
      const record = marked === 'marked' ? await findIntegrationById(db, id) : null;
      if (!record) return [];
      return [appEvent('integration.failing', { integration: integrationToJson(record, this.options.callbackUrl), error_code: code, reason: message }, this.options.clock.now())];
    };
    const outcome = await this.write(id, (db) => markIntegrationFailing(db, id, {
      code,
      message,
      at: this.options.clock.now(),
      seenUpdatedAt: failure.recordUpdatedAt,
    }), outbox);
    if (outcome === 'not_found') throw new TokenkeeperError('integration_not_found', `No integration "${id}".`);
    if (outcome === 'unchanged') return;
    this.invalidate(id);
    if (outcome === 'marked') {
      const { record } = await this.recordById(id);
      this.options.events.emit('integration.failing', { integrationKey: record.key, provider: record.provider, errorCode: code, reason: message });
    }
  }

  async remove(key: string, options: { force: boolean }): Promise<IntegrationRecord> {
    const current = await this.getByKey(key);
    const count = await countConnectionsOfIntegration(this.options.db, current.id);
    if (count > 0 && !options.force) {
      throw new TokenkeeperError('integration_in_use', `The integration "${key}" has ${count} connection(s); delete them first or pass force.`, {
        details: { connections: count },
      });
    }
    // A forced delete takes the integration's connections with it: the application hears
    // `connection.deleted` for each (the connection as it was), written in the delete's
    // transaction like every other event.
    const removed = await this.write(
      current.id,
      async (db) => {
        const connections = count > 0 ? await listConnections(db, { integrationId: current.id, limit: Number.MAX_SAFE_INTEGER }) : [];
        await deleteIntegration(db, current.id);
        return connections;
      },
      async (connections) => {
        const keys = { record: { key: current.key }, provider: { key: current.provider } };
        return connections.map((connection) => connectionAppEvent('connection.deleted', connection, keys, this.options.clock.now()));
      },
    );
    this.invalidate(current.id);
    for (const connection of removed) {
      this.options.events.emit('connection.deleted', { connectionId: connection.id, integrationKey: current.key, provider: current.provider, ownerId: connection.ownerId });
    }
    this.options.events.emit('integration.deleted', { integrationKey: current.key, provider: current.provider });
    return current;
  }

  list(): Promise<IntegrationRecord[]> {
    return listIntegrations(this.options.db);
  }

  async getByKey(key: string): Promise<IntegrationRecord> {
    const record = await findIntegrationByKey(this.options.db, key);
    if (!record) throw new TokenkeeperError('integration_not_found', `No integration with key "${key}".`);
    return record;
  }

  async findByKey(key: string): Promise<IntegrationRecord | null> {
    return findIntegrationByKey(this.options.db, key);
  }

  /**
   * The row and its catalog entry, for everything that only reads: never discovery, never the
   * secret, so it works while the provider is down. On the token hot path: the cached case is a
   * Map lookup and a time comparison. Unknown id: `integration_not_found`.
   */
  recordById(id: string): Promise<IntegrationView> {
    return this.views.get(id);
  }

  /** `recordById` when the view is cached and fresh, synchronously; undefined otherwise. */
  peekRecordById(id: string): IntegrationView | undefined {
    return this.views.peek(id);
  }

  /** Integration plus its provider client (discovery done, secret decrypted), cached coherently. */
  resolveById(id: string): Promise<ResolvedIntegration> {
    return this.resolved.get(id);
  }

  async resolveByKey(key: string): Promise<ResolvedIntegration> {
    const record = await this.getByKey(key);
    const resolved = await this.resolveById(record.id);
    // The row was just read anyway: a cached entry older than it is dropped now rather than
    // served for the rest of its coherence window.
    if (resolved.record.updatedAt !== record.updatedAt) {
      this.invalidate(record.id);
      return this.resolveById(record.id);
    }
    return resolved;
  }

  /** Drops cached views and provider clients (of one integration, or all). */
  invalidate(id?: string): void {
    this.views.invalidate(id);
    this.resolved.invalidate(id);
  }

  private async loadView(id: string): Promise<IntegrationView> {
    const record = await findIntegrationById(this.options.db, id);
    if (!record) throw new TokenkeeperError('integration_not_found', `No integration "${id}".`);
    const provider = getProvider(record.provider);
    if (!provider) throw new TokenkeeperError('unknown_provider', `The integration "${record.key}" uses unknown provider "${record.provider}".`);
    return { record, provider };
  }

  /**
   * Resolves the provider client. For discovery providers this is an outbound call (RFC 8414 §3 /
   * OpenID Connect Discovery §4), so it runs inside the guard; a failure of the request itself
   * (not the guard refusing to send it) is reported as `integration.discovery_failed`.
   */
  private async load(id: string): Promise<ResolvedIntegration> {
    const { record, provider } = await this.loadView(id);
    const clientSecret = record.clientSecretSealed ? this.options.keyRing.open(record.clientSecretSealed, this.secretAad(record.id)) : null;
    let discoveryError: unknown;
    const resolve = () => resolveProviderClient(
      {
        key: record.key,
        provider: record.provider,
        clientId: record.clientId,
        clientSecret,
        scopes: record.scopes,
        redirectUri: record.redirectUri ?? this.options.callbackUrl,
        settings: record.settings as IntegrationSettings,
      },
      { fetch: this.options.fetch, timeoutMs: this.options.requestTimeoutMs, clock: this.options.clock },
    ).catch((error: unknown) => {
      discoveryError = error;
      throw error;
    });
    const { guard } = this.options;
    try {
      const issuer = (record.settings as IntegrationSettings).issuer ?? provider.issuer;
      const sends = provider.discovery && !(issuer && isDiscoveryCached(issuer, this.options.clock));
      const client = sends && guard ? await guard(record.id, resolve) : await resolve();
      return { record, provider, client };
    } catch (error) {
      if (provider.discovery && error === discoveryError && isTokenkeeperError(error, 'provider_unavailable')) {
        this.options.events.emit('integration.discovery_failed', { integrationKey: record.key, provider: record.provider, reason: error.message });
      }
      throw error;
    }
  }
}

/**
 * A provider's words, made safe to store and show: control characters (a terminal escape in an
 * error_description would reach the operator's terminal through the CLI) become spaces, and the
 * length is capped.
 */
function cleanFailureText(text: string, maxLength: number): string {
  const clean = String(text).replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return clean.length > maxLength ? `${clean.slice(0, maxLength - 1)}…` : clean;
}
