import type { Clock } from '../clock.ts';
import type { KeyRing } from '../crypto/index.ts';
import { TokenkeeperError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { newId } from '../ids.ts';
import { resolveProviderClient, type ProviderClient } from '../oauth/index.ts';
import { getProvider, type IntegrationSettings, type ProviderEntry } from '../providers/index.ts';
import {
  countConnectionsOfIntegration,
  deleteIntegration,
  findIntegrationById,
  findIntegrationByKey,
  insertIntegration,
  listIntegrations,
  updateIntegration,
  type Database,
  type IntegrationRecord,
} from '../store/index.ts';
import { validateIntegrationInput } from './integration-input.ts';

export interface ResolvedIntegration {
  record: IntegrationRecord;
  provider: ProviderEntry;
  client: ProviderClient;
}

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
}

/** The public shape of an integration: never the client secret, only whether one is set. */
export function integrationToJson(record: IntegrationRecord, callbackUrl: string): Record<string, unknown> {
  return {
    id: record.id,
    key: record.key,
    provider: record.provider,
    display_name: record.displayName,
    client_id: record.clientId,
    has_client_secret: record.clientSecretSealed !== null,
    scopes: record.scopes,
    redirect_uri: record.redirectUri ?? callbackUrl,
    settings: record.settings,
    refresh_buffer_seconds: record.refreshBufferSeconds,
    system_grant: record.systemGrant,
    system_scopes: record.systemScopes,
    enabled: record.enabled,
    created_at: new Date(record.createdAt).toISOString(),
    updated_at: new Date(record.updatedAt).toISOString(),
  };
}

/**
 * Integrations: an operator's configured use of a provider. Holds the only copy of the
 * decrypted client secret in memory, inside the resolved provider client, cached per
 * integration and dropped on every change.
 */
export class IntegrationService {
  private readonly options: IntegrationServiceOptions;
  private readonly resolved = new Map<string, Promise<ResolvedIntegration>>();

  constructor(options: IntegrationServiceOptions) {
    this.options = options;
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

  async update(key: string, body: unknown): Promise<IntegrationRecord> {
    const current = await this.getByKey(key);
    const input = validateIntegrationInput(body, { partial: true, currentProvider: current.provider });
    const next: IntegrationRecord = {
      ...current,
      displayName: input.displayName !== undefined ? input.displayName : current.displayName,
      clientId: input.clientId ?? current.clientId,
      clientSecretSealed:
        input.clientSecret === undefined
          ? current.clientSecretSealed
          : input.clientSecret === null
            ? null
            : this.options.keyRing.seal(input.clientSecret, this.secretAad(current.id)),
      scopes: input.scopes ?? current.scopes,
      redirectUri: input.redirectUri !== undefined ? input.redirectUri : current.redirectUri,
      settings: input.settings !== undefined ? (input.settings as Record<string, unknown>) : current.settings,
      refreshBufferSeconds: input.refreshBufferSeconds ?? current.refreshBufferSeconds,
      systemGrant: input.systemGrant !== undefined ? input.systemGrant : current.systemGrant,
      systemScopes: input.systemScopes !== undefined ? input.systemScopes : current.systemScopes,
      enabled: input.enabled ?? current.enabled,
      updatedAt: this.options.clock.now(),
    };
    await updateIntegration(this.options.db, next);
    this.resolved.delete(current.id);
    this.options.events.emit('integration.updated', { integrationKey: next.key, provider: next.provider });
    return next;
  }

  async remove(key: string, options: { force: boolean }): Promise<IntegrationRecord> {
    const current = await this.getByKey(key);
    const count = await countConnectionsOfIntegration(this.options.db, current.id);
    if (count > 0 && !options.force) {
      throw new TokenkeeperError('integration_in_use', `The integration "${key}" has ${count} connection(s); delete them first or pass force.`, {
        details: { connections: count },
      });
    }
    await deleteIntegration(this.options.db, current.id);
    this.resolved.delete(current.id);
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

  /** Integration plus its provider client (discovery done, secret decrypted), cached. */
  async resolveById(id: string): Promise<ResolvedIntegration> {
    let pending = this.resolved.get(id);
    if (!pending) {
      pending = this.load(id);
      this.resolved.set(id, pending);
      pending.catch(() => this.resolved.delete(id));
    }
    return pending;
  }

  async resolveByKey(key: string): Promise<ResolvedIntegration> {
    const record = await this.getByKey(key);
    const resolved = await this.resolveById(record.id);
    // A cached entry older than the row (changed by another process): reload.
    if (resolved.record.updatedAt !== record.updatedAt) {
      this.resolved.delete(record.id);
      return this.resolveById(record.id);
    }
    return resolved;
  }

  /** Drop cached provider clients (e.g. after another process changed an integration). */
  invalidate(id?: string): void {
    if (id) this.resolved.delete(id);
    else this.resolved.clear();
  }

  private async load(id: string): Promise<ResolvedIntegration> {
    const record = await findIntegrationById(this.options.db, id);
    if (!record) throw new TokenkeeperError('integration_not_found');
    const provider = getProvider(record.provider);
    if (!provider) throw new TokenkeeperError('unknown_provider', `The integration "${record.key}" uses unknown provider "${record.provider}".`);
    const clientSecret = record.clientSecretSealed ? this.options.keyRing.open(record.clientSecretSealed, this.secretAad(record.id)) : null;
    const client = await resolveProviderClient(
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
    );
    return { record, provider, client };
  }
}
