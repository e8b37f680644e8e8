import { severityRank, type Severity } from '../alerts/index.ts';
import type { Clock } from '../clock.ts';
import {
  countConnectionsInStatusSince,
  countUnfinishedConnectSessions,
  listConnectionsInStatusSince,
  listUnfinishedConnectSessions,
  type ConnectionInStatus,
  type Database,
  type UnfinishedConnectSession,
} from '../store/index.ts';

/** The states a connection can be stuck in: a connect flow never finished, or a connection status held too long. */
export type StuckState = 'connect_session' | 'degraded' | 'needs_reauth';

export const STUCK_STATES: readonly StuckState[] = ['connect_session', 'degraded', 'needs_reauth'];

/** How long each state may last before it counts as stuck, in ms (`TOKENKEEPER_STUCK_*_AFTER`). */
export interface StuckThresholds {
  connectSessionMs: number;
  degradedMs: number;
  needsReauthMs: number;
}

export const DEFAULT_STUCK_THRESHOLDS: Readonly<StuckThresholds> = Object.freeze({
  connectSessionMs: 30 * 60_000,
  degradedMs: 3_600_000,
  needsReauthMs: 86_400_000,
});

/**
 * Per state: its severity, and whether it is terminal (it will not get better without a person:
 * a connection in `needs_reauth` waits for its user, whatever Tokenkeeper retries). A degraded
 * connection recovers on the next successful refresh; an abandoned connect session is only a
 * user who has not (yet) finished.
 */
export const STUCK_POLICY: Readonly<Record<StuckState, { severity: Severity; terminal: boolean }>> = Object.freeze({
  connect_session: { severity: 'LOW', terminal: false },
  degraded: { severity: 'MEDIUM', terminal: false },
  needs_reauth: { severity: 'HIGH', terminal: true },
});

/** One stuck connection (or connect session), as the API, the CLI and the alert describe it. */
export interface StuckConnection {
  /** The connection id (`con_…`), or the connect session id (`cs_…`) for `connect_session`. */
  id: string;
  state: StuckState;
  connectionId: string | null;
  integration: string;
  provider: string;
  ownerId: string | null;
  kind: 'user' | 'system';
  severity: Severity;
  terminal: boolean;
  /** When it entered the state (the session's start, the status change). */
  since: number;
  stuckForMs: number;
  thresholdMs: number;
  /** Why, in the provider's or Tokenkeeper's words (the status reason, the last error), if known. */
  reason: string | null;
  /** What would unstick it, in one or two sentences. */
  action: string;
  /** The body of `POST /v1/connect/sessions` that starts the reconnect, when only the user can help. */
  reconnect: { integration: string; owner_id: string | null; kind: 'user' | 'system' } | null;
}

export interface StuckFilter {
  state?: StuckState;
  severity?: Severity;
  terminal?: boolean;
}

/** At most this many rows per state are read by one detection (the oldest first). */
export const STUCK_SCAN_LIMIT = 10_000;

export interface StuckScan {
  stuck: StuckConnection[];
  /** True when a state had more stuck rows than `STUCK_SCAN_LIMIT`: the list is then not complete. */
  truncated: boolean;
}

/**
 * Stuck-connection detection (issue 8, item 6): reads only storage, so it answers while a
 * provider is down. The states are dated by the store itself (`status_changed_at`, a session's
 * `created_at`), never by the caller.
 */
export class StuckConnections {
  readonly thresholds: Readonly<StuckThresholds>;
  private readonly db: Database;
  private readonly clock: Clock;

  constructor(deps: { db: Database; clock: Clock; thresholds?: Partial<StuckThresholds> }) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.thresholds = Object.freeze({ ...DEFAULT_STUCK_THRESHOLDS, ...deps.thresholds });
  }

  /** Every stuck connection matching `filter`: highest severity first, then the longest stuck. */
  async list(filter: StuckFilter = {}): Promise<StuckConnection[]> {
    return (await this.scan(filter)).stuck;
  }

  async scan(filter: StuckFilter = {}): Promise<StuckScan> {
    const now = this.clock.now();
    const wanted = STUCK_STATES.filter(
      (state) =>
        (filter.state === undefined || filter.state === state) &&
        (filter.severity === undefined || STUCK_POLICY[state].severity === filter.severity) &&
        (filter.terminal === undefined || STUCK_POLICY[state].terminal === filter.terminal),
    );
    const stuck: StuckConnection[] = [];
    let truncated = false;
    for (const state of wanted) {
      const before = now - this.thresholdOf(state);
      if (state === 'connect_session') {
        const sessions = await listUnfinishedConnectSessions(this.db, before, STUCK_SCAN_LIMIT);
        truncated ||= sessions.length >= STUCK_SCAN_LIMIT;
        stuck.push(...sessions.map((session) => this.ofSession(session, now)));
      } else {
        const connections = await listConnectionsInStatusSince(this.db, state, before, STUCK_SCAN_LIMIT);
        truncated ||= connections.length >= STUCK_SCAN_LIMIT;
        stuck.push(...connections.map((connection) => this.ofConnection(state, connection, now)));
      }
    }
    return { stuck: stuck.sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.since - b.since), truncated };
  }

  /** How many are stuck in each state, by counting (for the metrics scrape). */
  async count(): Promise<Record<StuckState, number>> {
    const now = this.clock.now();
    return {
      connect_session: await countUnfinishedConnectSessions(this.db, now - this.thresholds.connectSessionMs),
      degraded: await countConnectionsInStatusSince(this.db, 'degraded', now - this.thresholds.degradedMs),
      needs_reauth: await countConnectionsInStatusSince(this.db, 'needs_reauth', now - this.thresholds.needsReauthMs),
    };
  }

  thresholdOf(state: StuckState): number {
    if (state === 'connect_session') return this.thresholds.connectSessionMs;
    return state === 'degraded' ? this.thresholds.degradedMs : this.thresholds.needsReauthMs;
  }

  private ofSession({ session, integrationKey, provider }: UnfinishedConnectSession, now: number): StuckConnection {
    const who = session.kind === 'system' ? 'the system connection' : `owner ${session.ownerId}`;
    const action =
      session.openedAt === null
        ? `The connect link for ${who} was never opened. If they still want to connect, start a new connect session and send them its link; otherwise nothing needs doing (it stops being listed a day after the link expired).`
        : `The connect link for ${who} was opened at ${new Date(session.openedAt).toISOString()}, but the user never came back from ${provider}'s consent page (closed, denied without returning, or the callback could not be reached). Check that ${provider} redirects to this Tokenkeeper's callback URL, then start a new connect session and send them its link.`;
    return {
      id: session.id,
      state: 'connect_session',
      connectionId: null,
      integration: integrationKey,
      provider,
      ownerId: session.ownerId,
      kind: session.kind,
      ...STUCK_POLICY.connect_session,
      since: session.createdAt,
      stuckForMs: now - session.createdAt,
      thresholdMs: this.thresholds.connectSessionMs,
      reason: session.openedAt === null ? 'link never opened' : 'no callback after the link was opened',
      action,
      reconnect: { integration: integrationKey, owner_id: session.ownerId, kind: session.kind },
    };
  }

  private ofConnection(state: 'degraded' | 'needs_reauth', { record, integrationKey, provider }: ConnectionInStatus, now: number): StuckConnection {
    const since = record.statusChangedAt ?? record.updatedAt;
    const lastError = record.lastErrorCode === null ? null : `${record.lastErrorCode}${record.lastErrorMessage ? `: ${record.lastErrorMessage}` : ''}`;
    const who = record.kind === 'system' ? 'the system connection' : `owner ${record.ownerId}`;
    const action =
      state === 'degraded'
        ? `Refreshes have been failing for a temporary reason${lastError ? ` (last error ${lastError})` : ''}; Tokenkeeper keeps retrying with backoff, and the connection recovers by itself at the next successful refresh. Check ${provider}'s status and the integration (\`tokenkeeper doctor\`).`
        : record.kind === 'system'
          ? `${provider} no longer accepts the integration's system connection. If it is minted with client credentials, check the integration's client id, secret and scopes (\`tokenkeeper doctor\`); the sweep mints it again once they work. If it was connected through the consent screen, connect it again (a connect session of kind system).`
          : `Only the user can fix this: ${provider} no longer accepts the connection's refresh token. Ask ${who} to reconnect: start a connect session for integration ${integrationKey} and send them its link; reconnecting the same account restores this connection.`;
    return {
      id: record.id,
      state,
      connectionId: record.id,
      integration: integrationKey,
      provider,
      ownerId: record.ownerId,
      kind: record.kind,
      ...STUCK_POLICY[state],
      since,
      stuckForMs: now - since,
      thresholdMs: this.thresholdOf(state),
      reason: (state === 'needs_reauth' ? (record.statusReason ?? lastError) : (lastError ?? record.statusReason))?.slice(0, 300) ?? null,
      action,
      reconnect: state === 'needs_reauth' ? { integration: integrationKey, owner_id: record.ownerId, kind: record.kind } : null,
    };
  }
}

/** The API's and the CLI's `--json` shape of a stuck connection (snake_case, ISO 8601 times). */
export function stuckConnectionToJson(stuck: StuckConnection): Record<string, unknown> {
  return {
    id: stuck.id,
    state: stuck.state,
    connection_id: stuck.connectionId,
    integration: stuck.integration,
    provider: stuck.provider,
    owner_id: stuck.ownerId,
    kind: stuck.kind,
    severity: stuck.severity,
    terminal: stuck.terminal,
    since: new Date(stuck.since).toISOString(),
    stuck_for_seconds: Math.max(0, Math.floor(stuck.stuckForMs / 1000)),
    threshold_seconds: Math.floor(stuck.thresholdMs / 1000),
    reason: stuck.reason,
    action: stuck.action,
    reconnect: stuck.reconnect,
  };
}

export function stuckThresholdsToJson(thresholds: Readonly<StuckThresholds>): { connect_session_seconds: number; degraded_seconds: number; needs_reauth_seconds: number } {
  return {
    connect_session_seconds: Math.floor(thresholds.connectSessionMs / 1000),
    degraded_seconds: Math.floor(thresholds.degradedMs / 1000),
    needs_reauth_seconds: Math.floor(thresholds.needsReauthMs / 1000),
  };
}
