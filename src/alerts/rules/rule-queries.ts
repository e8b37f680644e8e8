import { connectionFromRow, isPostgres, type ConnectionRecord, type ConnectionStatus, type Database } from '../../store/index.ts';

/**
 * The SQL of the built-in rules: one query per rule, whatever the number of connections, each
 * on an index (`connections (status, …)`, `connections (failing_since)`, `events (type,
 * created_at, integration_key)` of migration 0009). Every rule reads at most `limit` rows; a rule
 * that hits the limit says so (`complete: false`) and resolves nothing that tick, since what it did
 * not read may still hold.
 */

/** What a per-connection alert says about its connection and integration. */
export interface ConnectionFacts {
  id: string;
  ownerId: string | null;
  kind: 'user' | 'system';
  status: ConnectionStatus;
  statusReason: string | null;
  accountLabel: string | null;
  failingSince: number | null;
  expiresAt: number | null;
  lastErrorMessage: string | null;
  integrationKey: string;
  provider: string;
  /** The integration mints its system connection by client credentials. */
  clientCredentials: boolean;
}

export interface Rows<T> {
  rows: T[];
  /** False when `limit` rows were read: there may be more. */
  complete: boolean;
}

const factColumns = [
  'c.id as id',
  'c.owner_id as ownerId',
  'c.kind as kind',
  'c.status as status',
  'c.status_reason as statusReason',
  'c.account_label as accountLabel',
  'c.failing_since as failingSince',
  'c.expires_at as expiresAt',
  'c.last_error_message as lastErrorMessage',
  'i.key as integrationKey',
  'i.provider as provider',
  'i.system_grant as systemGrant',
] as const;

type FactRow = {
  id: string;
  ownerId: string | null;
  kind: 'user' | 'system';
  status: ConnectionStatus;
  statusReason: string | null;
  accountLabel: string | null;
  failingSince: number | string | null;
  expiresAt: number | string | null;
  lastErrorMessage: string | null;
  integrationKey: string;
  provider: string;
  systemGrant: string | null;
};

function factsOf(row: FactRow): ConnectionFacts {
  return {
    id: row.id,
    ownerId: row.ownerId,
    kind: row.kind,
    status: row.status,
    statusReason: row.statusReason,
    accountLabel: row.accountLabel,
    failingSince: row.failingSince === null ? null : Number(row.failingSince),
    expiresAt: row.expiresAt === null ? null : Number(row.expiresAt),
    lastErrorMessage: row.lastErrorMessage,
    integrationKey: row.integrationKey,
    provider: row.provider,
    clientCredentials: row.systemGrant === 'client_credentials',
  };
}

function limited<T>(rows: T[], limit: number): Rows<T> {
  return { rows: rows.slice(0, limit), complete: rows.length <= limit };
}

/** One connection's facts, for a rule an event triggers; null when it is gone. */
export async function connectionFacts(db: Database, id: string): Promise<ConnectionFacts | null> {
  const row = await db
    .selectFrom('connections as c')
    .innerJoin('integrations as i', 'i.id', 'c.integration_id')
    .select(factColumns)
    .where('c.id', '=', id)
    .executeTakeFirst();
  return row ? factsOf(row) : null;
}

/** Connections in `needs_reauth` (index `connections (status, status_changed_at)`). */
export async function connectionsNeedingReauth(db: Database, limit: number): Promise<Rows<ConnectionFacts>> {
  const rows = await db
    .selectFrom('connections as c')
    .innerJoin('integrations as i', 'i.id', 'c.integration_id')
    .select(factColumns)
    .where('c.status', '=', 'needs_reauth')
    .orderBy('c.status_changed_at')
    .limit(limit + 1)
    .execute();
  return limited(rows.map(factsOf), limit);
}

/** Active or degraded connections of enabled integrations whose refreshes have failed since `failingBefore` or earlier. */
export async function connectionsFailingSince(db: Database, failingBefore: number, limit: number): Promise<Rows<ConnectionFacts>> {
  const rows = await db
    .selectFrom('connections as c')
    .innerJoin('integrations as i', 'i.id', 'c.integration_id')
    .select(factColumns)
    .where('c.failing_since', '<=', failingBefore)
    .where('c.status', 'in', ['active', 'degraded'])
    .where('i.enabled', '=', 1)
    .orderBy('c.failing_since')
    .limit(limit + 1)
    .execute();
  return limited(rows.map(factsOf), limit);
}

/**
 * Active or degraded connections of enabled integrations whose access token expired before
 * `expiredBefore` (index `connections (status, expires_at)`), with the row itself, whose sealed
 * tokens say whether there is a refresh token to renew it with.
 */
export async function connectionsExpiredBefore(
  db: Database,
  expiredBefore: number,
  limit: number,
): Promise<Rows<{ facts: ConnectionFacts; record: ConnectionRecord }>> {
  const rows = await db
    .selectFrom('connections as c')
    .innerJoin('integrations as i', 'i.id', 'c.integration_id')
    .selectAll('c')
    .select(['i.key as integration_key_', 'i.provider as integration_provider_', 'i.system_grant as integration_system_grant_'])
    .where('c.status', 'in', ['active', 'degraded'])
    .where('c.expires_at', '<', expiredBefore)
    .where('i.enabled', '=', 1)
    .orderBy('c.expires_at')
    .limit(limit + 1)
    .execute();
  return limited(
    rows.map((row) => {
      const { integration_key_, integration_provider_, integration_system_grant_, ...connection } = row;
      const record = connectionFromRow(connection);
      return {
        record,
        facts: factsOf({
          id: record.id,
          ownerId: record.ownerId,
          kind: record.kind,
          status: record.status,
          statusReason: record.statusReason,
          accountLabel: record.accountLabel,
          failingSince: record.failingSince ?? null,
          expiresAt: record.expiresAt,
          lastErrorMessage: record.lastErrorMessage,
          integrationKey: integration_key_,
          provider: integration_provider_,
          systemGrant: integration_system_grant_,
        }),
      };
    }),
    limit,
  );
}

/** Every integration that mints a system connection by client credentials, with that connection if there is one. */
export async function systemConnectionStates(db: Database): Promise<
  {
    integrationKey: string;
    provider: string;
    enabled: boolean;
    failing: boolean;
    integrationUpdatedAt: number;
    connectionId: string | null;
    status: ConnectionStatus | null;
    statusReason: string | null;
    connectionCreatedAt: number | null;
  }[]
> {
  const rows = await db
    .selectFrom('integrations as i')
    .leftJoin('connections as c', (join) => join.onRef('c.integration_id', '=', 'i.id').on('c.kind', '=', 'system'))
    .select([
      'i.key as integrationKey',
      'i.provider as provider',
      'i.enabled as enabled',
      'i.failing_since as failingSince',
      'i.updated_at as integrationUpdatedAt',
      'c.id as connectionId',
      'c.status as status',
      'c.status_reason as statusReason',
      'c.created_at as connectionCreatedAt',
    ])
    .where('i.system_grant', '=', 'client_credentials')
    .execute();
  return rows.map((row) => ({
    integrationKey: row.integrationKey,
    provider: row.provider,
    enabled: Number(row.enabled) === 1,
    failing: row.failingSince !== null,
    integrationUpdatedAt: Number(row.integrationUpdatedAt),
    connectionId: row.connectionId,
    status: row.status,
    statusReason: row.statusReason,
    connectionCreatedAt: row.connectionCreatedAt === null ? null : Number(row.connectionCreatedAt),
  }));
}

/**
 * Refresh outcomes per integration since `since`, from the event log every instance writes
 * (`token.refreshed`, `token.refresh_failed`). A call the circuit breaker refused never reached
 * the provider and is not in the log, so an open circuit does not inflate the rate.
 */
export async function refreshOutcomesSince(db: Database, since: number): Promise<Map<string, { succeeded: number; failed: number }>> {
  const rows = await db
    .selectFrom('events')
    .select(['integration_key as integrationKey', 'type', (eb) => eb.fn.countAll<number | string>().as('count')])
    .where('type', 'in', ['token.refreshed', 'token.refresh_failed'])
    .where('created_at', '>=', since)
    .groupBy(['integration_key', 'type'])
    .execute();
  const outcomes = new Map<string, { succeeded: number; failed: number }>();
  for (const row of rows) {
    if (row.integrationKey === null) continue;
    const entry = outcomes.get(row.integrationKey) ?? { succeeded: 0, failed: 0 };
    if (row.type === 'token.refreshed') entry.succeeded += Number(row.count);
    else entry.failed += Number(row.count);
    outcomes.set(row.integrationKey, entry);
  }
  return outcomes;
}

/**
 * On PostgreSQL, the integrations whose shared circuit breaker is not closed (open, or half-open
 * waiting for its probe: `circuit_open_until` is cleared only when a call succeeds). Null on
 * SQLite, where the breaker lives in the one process's memory.
 */
export async function sharedOpenCircuits(db: Database): Promise<Set<string> | null> {
  if (!isPostgres(db)) return null;
  const rows = await db.selectFrom('outbound_limits').select('integration_id').where('circuit_open_until', 'is not', null).execute();
  return new Set(rows.map((row) => row.integration_id));
}

// --- alert rows ----------------------------------------------------------------------------

export interface AlertState {
  key: string;
  type: string;
  state: 'firing' | 'resolved';
  lastSeenAt: number;
  resolvedAt: number | null;
}

/** Alerts of these types that are firing, or resolved at `resolvedSince` or later (index `alerts (type, key)`). */
export async function alertStates(db: Database, types: readonly string[], resolvedSince: number): Promise<AlertState[]> {
  if (types.length === 0) return [];
  const rows = await db
    .selectFrom('alerts')
    .select(['key', 'type', 'state', 'last_seen_at', 'resolved_at'])
    .where('type', 'in', [...types])
    .where((eb) => eb.or([eb('state', '=', 'firing'), eb('resolved_at', '>=', resolvedSince)]))
    .execute();
  return rows.map((row) => ({
    key: row.key,
    type: row.type,
    state: row.state,
    lastSeenAt: Number(row.last_seen_at),
    resolvedAt: row.resolved_at === null ? null : Number(row.resolved_at),
  }));
}

const CHUNK = 500;

/**
 * Resolves firing alerts of `type` among `keys` that were last raised before `seenBefore`: an
 * alert raised (by an event) after the rule began reading the database may rest on a change the
 * rule's read did not see, so it is left to the next check.
 */
export async function resolveAlertsSeenBefore(db: Database, type: string, keys: readonly string[], seenBefore: number, now: number): Promise<number> {
  let resolved = 0;
  for (let start = 0; start < keys.length; start += CHUNK) {
    const result = await db
      .updateTable('alerts')
      .set({ state: 'resolved', resolved_at: now })
      .where('type', '=', type)
      .where('key', 'in', keys.slice(start, start + CHUNK))
      .where('state', '=', 'firing')
      .where('last_seen_at', '<', seenBefore)
      .executeTakeFirst();
    resolved += Number(result.numUpdatedRows);
  }
  return resolved;
}

/** Firing alerts of `type` not seen since `seenBefore` are resolved (their source went silent). */
export async function resolveAlertsNotSeenSince(db: Database, type: string, seenBefore: number, now: number): Promise<number> {
  const result = await db
    .updateTable('alerts')
    .set({ state: 'resolved', resolved_at: now })
    .where('type', '=', type)
    .where('state', '=', 'firing')
    .where('last_seen_at', '<', seenBefore)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Marks the firing alerts of `type` as seen now, those last seen before `seenBefore` only: a
 * condition that keeps holding refreshes its alert's `last_seen_at` every few minutes rather than
 * rewriting thousands of rows at every check.
 */
export async function touchFiringAlerts(db: Database, type: string, seenBefore: number, now: number): Promise<void> {
  await db.updateTable('alerts').set({ last_seen_at: now }).where('type', '=', type).where('state', '=', 'firing').where('last_seen_at', '<', seenBefore).execute();
}

/**
 * The keys of the firing alerts of these types, at most `limit` (index `alerts (type, key)`): the
 * in-process view of firing-alert-keys.ts.
 */
export async function firingKeysOf(db: Database, types: readonly string[], limit: number): Promise<Rows<string>> {
  const rows = await db.selectFrom('alerts').select('key').where('type', 'in', [...types]).where('state', '=', 'firing').limit(limit).execute();
  return { rows: rows.map((row) => row.key), complete: rows.length < limit };
}

/**
 * Resolves the firing alerts of these types about one thing. Read first, and written only when
 * something fires: a read takes no write lock. On a refresh it runs only when this instance's view
 * of the firing alerts cannot rule them out (firing-alert-keys.ts).
 */
export async function resolveFiringOfKey(db: Database, types: readonly string[], key: string, now: number): Promise<number> {
  const firing = await db.selectFrom('alerts').select('type').where('type', 'in', [...types]).where('key', '=', key).where('state', '=', 'firing').execute();
  if (firing.length === 0) return 0;
  const result = await db
    .updateTable('alerts')
    .set({ state: 'resolved', resolved_at: now })
    .where('type', 'in', firing.map((row) => row.type))
    .where('key', '=', key)
    .where('state', '=', 'firing')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
