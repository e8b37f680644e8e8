import type { Clock } from '../clock.ts';
import type { IntegrationService } from '../integrations/index.ts';
import { newId } from '../ids.ts';
import {
  findConnection,
  findSystemConnection,
  insertConnection,
  isUniqueViolation,
  updateConnectionFenced,
  type ConnectionRecord,
  type Database,
} from '../store/index.ts';
import type { EventBus } from '../events.ts';
import { connectionAppEvent } from './connection-app-events.ts';
import type { TokenService } from './token-service.ts';

export interface SystemConnectionDeps {
  db: Database;
  clock: Clock;
  integrations: IntegrationService;
  tokens: TokenService;
  events?: EventBus;
}

/**
 * The integration's system (app-level) connection, minted by client credentials when the
 * integration is configured for it.
 *
 * Minting is a refresh like any other: the row exists first (status `pending`, one per
 * integration by a unique index, so of many first callers across processes exactly one insert
 * wins), and its token comes from the one refresh path — single flight, lease, rate limiter,
 * breaker, classification and cooldown. Twenty first callers make one client-credentials call
 * and get one token; a failing provider gets a typed 503 and a cooldown, not a call per request.
 *
 * A system connection that needs attention after a permanent error is minted again once the
 * operator has changed the integration.
 */
export async function ensureSystemConnection(deps: SystemConnectionDeps, integrationKey: string): Promise<ConnectionRecord | null> {
  const { db, integrations } = deps;
  const integration = await integrations.getByKey(integrationKey);
  let row = await findSystemConnection(db, integration.id);
  if (row && (row.status === 'active' || row.status === 'degraded')) return row;
  if (integration.systemGrant !== 'client_credentials' || !integration.enabled) return row;

  if (!row) row = await insertPending(deps, integration.id);
  else if (row.status === 'needs_reauth' && integration.updatedAt > row.updatedAt) {
    row =
      (await updateConnectionFenced(db, row.id, row.version, {
        status: 'pending',
        statusReason: null,
        failureCount: 0,
        nextAttemptAt: null,
        lastErrorCode: null,
        lastErrorMessage: null,
        updatedAt: deps.clock.now(),
      })) ?? (await findSystemConnection(db, integration.id));
    if (row) deps.tokens.forget(row.id);
  }
  if (!row || row.status !== 'pending') return row;
  await deps.tokens.getToken(row.id, { trigger: 'system' });
  return findConnection(db, row.id);
}

async function insertPending(deps: SystemConnectionDeps, integrationId: string): Promise<ConnectionRecord | null> {
  const now = deps.clock.now();
  const record: ConnectionRecord = {
    id: newId('con'),
    integrationId,
    ownerId: null,
    kind: 'system',
    status: 'pending',
    statusReason: null,
    accountId: null,
    accountLabel: null,
    tokensSealed: null,
    tokenType: null,
    scopes: null,
    expiresAt: null,
    issuedAt: null,
    lastRefreshAt: null,
    metadata: {},
    version: 1,
    leaseOwner: null,
    leaseUntil: null,
    failureCount: 0,
    nextAttemptAt: null,
    unansweredRefreshAt: null,
    lastErrorCode: null,
    lastErrorMessage: null,
    createdAt: now,
    updatedAt: now,
  };
  const view = await deps.integrations.recordById(integrationId);
  try {
    // With its `connection.created` for the application, in one transaction; a new row, so
    // nothing to announce to other processes' caches.
    await deps.tokens.writeConnections([], (db) => insertConnection(db, record), () => [connectionAppEvent('connection.created', record, view, now, { imported: false })]);
  } catch (error) {
    // Another caller (here or in another process) inserted it first: use theirs.
    if (!isUniqueViolation(error)) throw error;
    return findSystemConnection(deps.db, integrationId);
  }
  if (deps.events) {
    deps.events.emit('connection.created', {
      connectionId: record.id,
      integrationKey: view.record.key,
      provider: view.provider.key,
      ownerId: null,
      accountId: null,
      kind: 'system',
      imported: false,
    });
  }
  return record;
}
