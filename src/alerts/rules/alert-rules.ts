import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../../clock.ts';
import type { EventBus } from '../../events.ts';
import type { Logger } from '../../logger.ts';
import { listIntegrations, type ConnectionRecord, type Database, type IntegrationRecord } from '../../store/index.ts';
import type { AlertService } from '../alert-service.ts';
import type { AlertRuleSettings } from './alert-rule-settings.ts';
import {
  CACHE_HIT_RATE_LOW,
  CONNECTION_NEEDS_REAUTH,
  CONNECTION_REFRESH_FAILING,
  INTEGRATION_CIRCUIT_OPEN,
  INTEGRATION_ERROR_RATE,
  INTEGRATION_FAILING,
  INTEGRATION_WIDE,
  SWEEP_STALLED,
  SYSTEM_TOKEN_MISSING,
  TOKEN_EXPIRED_WHILE_ACTIVE,
} from './built-in-alerts.ts';
import { CACHE_ALERT_STALE_AFTER_MS, CacheHitRateRule } from './cache-hit-rate.ts';
import { findNeedsReauth, findRefreshFailing, findTokenExpired, isReauthConnection, needsReauthAlert } from './connection-rules.ts';
import { FiringAlertKeys } from './firing-alert-keys.ts';
import {
  circuitOpenAlert,
  findCircuitOpen,
  findErrorRate,
  findIntegrationFailing,
  findSystemTokenMissing,
  integrationFailingAlert,
  systemTokenMissingAlert,
  systemTokenProblem,
} from './integration-rules.ts';
import { reconcileAlerts, type RuleFindings } from './reconcile-alerts.ts';
import { alertStates, connectionFacts, resolveAlertsNotSeenSince, resolveFiringOfKey, sharedOpenCircuits } from './rule-queries.ts';
import { findSweepStalled } from './sweep-rule.ts';

/** What the rules need of the token service (structural: `TokenService` fits). */
export interface RuleTokenAccess {
  /** The connection's decrypted tokens (whether it has a refresh token). */
  peekTokens(record: ConnectionRecord): { refresh_token: string | null } | null;
  /** The integration's circuit breaker as this instance sees it (on SQLite, its memory). */
  circuitStatus(integrationId: string): Promise<'closed' | 'open' | 'half_open'>;
}

export interface AlertRulesDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  events: EventBus;
  alerts: AlertService;
  tokens: RuleTokenAccess;
  settings: AlertRuleSettings;
  /** This instance's name in `cache_hit_rate_low` (default `host:pid:random`). */
  instanceId?: string;
}

/** What one check did (the `alert-rules` job's report). */
export interface AlertRulesReport {
  job: 'alert-rules';
  /** Rules checked. */
  checked: number;
  raised: number;
  resolved: number;
  /** Rules whose check failed (logged; the others still ran). */
  failed: number;
  refreshed: 0;
  needs_reauth: 0;
  duration_ms: number;
}

const PER_CONNECTION = Object.freeze([CONNECTION_NEEDS_REAUTH, CONNECTION_REFRESH_FAILING, TOKEN_EXPIRED_WHILE_ACTIVE]);
const FAILURE_RULES = Object.freeze([CONNECTION_REFRESH_FAILING, TOKEN_EXPIRED_WHILE_ACTIVE]);
/**
 * How long this instance trusts one read of the firing failure alerts (`FiringAlertKeys`): at most
 * one read a second on a busy instance instead of one per refresh, and a raise on another instance
 * is seen here within a second.
 */
const FIRING_VIEW_MAX_AGE_MS = 1_000;
/** With more failure alerts firing than this, the view rules nothing out: every refresh reads the table, as before. */
const FIRING_VIEW_MAX_KEYS = 1_000;

/**
 * The built-in rules (issue 8, item 4; docs/alerts.md "Built-in rules"), in two halves that
 * reach the same alerts:
 *
 * - Events raise and resolve at once what they announce (`connection.needs_reauth` is in the
 *   alert table before the request that caused it has answered, so time to awareness is the
 *   policy's group_wait), on the instance where they happen.
 * - The periodic `alert-rules` check (`evaluate`, claimed per tick like every job, so one
 *   instance per interval runs it on either database) reads every condition from the database,
 *   one query per rule, raises what holds and resolves what no longer does: an event lost to a
 *   crash between a state change and its listener, a rule with no event (refreshes failing for
 *   15 minutes, an expired token, a stalled sweep), another instance's breaker.
 *
 * Integration-wide alerts (its credentials refused, its breaker open, its error rate) speak for
 * the integration's connections: while one holds, and for the failing-refresh threshold after
 * (time for the connections' cooldowns to run out), the per-connection failure rules raise
 * nothing for that integration's connections, so a provider outage is one alert, not one per
 * user. Raising never sends anything: the `notify` job does, on its own schedule (invariant 7).
 */
export class AlertRules {
  readonly cacheHitRate: CacheHitRateRule;
  readonly instanceId: string;
  /** Which connections have a firing failure alert, as this instance knows: spares a refresh its read of the alerts. */
  readonly firingFailures: FiringAlertKeys;
  private readonly deps: AlertRulesDeps;
  /** When this instance began watching: a sweep that never completed is counted from here. */
  private readonly watchingSince: number;

  constructor(deps: AlertRulesDeps) {
    this.deps = deps;
    this.watchingSince = deps.clock.now();
    this.instanceId = deps.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
    this.firingFailures = new FiringAlertKeys({ db: deps.db, clock: deps.clock, types: FAILURE_RULES, maxAgeMs: FIRING_VIEW_MAX_AGE_MS, maxKeys: FIRING_VIEW_MAX_KEYS });
    this.cacheHitRate = new CacheHitRateRule({
      clock: deps.clock,
      logger: deps.logger,
      alerts: deps.alerts,
      instanceId: this.instanceId,
      threshold: deps.settings.cacheHitRate,
      windowMs: deps.settings.cacheHitRateWindowMs,
      minRequests: deps.settings.cacheHitRateMinRequests,
    });
  }

  /** Subscribes the event half; returns the unsubscriber (call it before the database closes). */
  subscribe(): () => void {
    const { events } = this.deps;
    const resolveConnection = ({ connectionId }: { connectionId: string }) => this.resolveOf(PER_CONNECTION, connectionId);
    const unsubscribers = [
      this.deps.alerts.onRaise(this.firingFailures.raising),
      events.on('connection.needs_reauth', ({ connectionId }) => this.connectionNeedsReauth(connectionId)),
      events.on('connection.reconnected', resolveConnection),
      events.on('connection.recovered', resolveConnection),
      events.on('connection.revoked', resolveConnection),
      events.on('connection.deleted', resolveConnection),
      // On every refresh: the alert table is read only when this instance cannot rule out a firing alert.
      events.on('token.refreshed', async ({ connectionId }) => {
        if (await this.firingFailures.mayFire(connectionId)) await this.resolveOf(FAILURE_RULES, connectionId);
      }),
      events.on('circuit.opened', async ({ integrationKey, provider }) => void (await this.deps.alerts.raise(circuitOpenAlert({ integrationKey, provider })))),
      events.on('circuit.closed', ({ integrationKey }) => this.resolveOf([INTEGRATION_CIRCUIT_OPEN], integrationKey)),
      events.on('integration.failing', async ({ integrationKey, provider, errorCode, reason }) => {
        await this.deps.alerts.raise(integrationFailingAlert({ integrationKey, provider, errorCode, reason, since: this.deps.clock.now() }));
      }),
      events.on('integration.recovered', ({ integrationKey }) => this.resolveOf([INTEGRATION_FAILING], integrationKey)),
      events.on('integration.deleted', ({ integrationKey }) => this.resolveOf([...INTEGRATION_WIDE, SYSTEM_TOKEN_MISSING], integrationKey)),
      events.on('token.served', ({ outcome }) => this.cacheHitRate.record(outcome)),
    ];
    return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
  }

  /**
   * The periodic check of every rule against the database (the `alert-rules` job). Harmless
   * when run twice or by two instances at once: raising is idempotent per (type, key), and a
   * resolution only ever applies to what the check found cleared.
   */
  async evaluate(): Promise<AlertRulesReport> {
    const started = performance.now();
    const report: AlertRulesReport = { job: 'alert-rules', checked: 0, raised: 0, resolved: 0, failed: 0, refreshed: 0, needs_reauth: 0, duration_ms: 0 };
    const { db, clock, settings } = this.deps;
    const startedAt = clock.now();
    const run = async (name: string, find: () => Promise<RuleFindings>): Promise<RuleFindings | null> => {
      try {
        const findings = await find();
        const outcome = await reconcileAlerts({ db, clock, alerts: this.deps.alerts }, findings, startedAt);
        report.checked++;
        report.raised += outcome.raised;
        report.resolved += outcome.resolved;
        return findings;
      } catch (error) {
        report.failed++;
        this.deps.logger.error('alert rule check failed', { rule: name, error });
        return null;
      }
    };

    let integrations: IntegrationRecord[] = [];
    try {
      integrations = await listIntegrations(db);
    } catch (error) {
      this.deps.logger.error('alert rule check failed', { rule: 'integrations', error });
      report.failed++;
      report.duration_ms = Math.round(performance.now() - started);
      return report;
    }

    const failing = await run(INTEGRATION_FAILING, async () => findIntegrationFailing(integrations));
    const circuits = await run(INTEGRATION_CIRCUIT_OPEN, async () => findCircuitOpen(integrations, await this.openCircuits(integrations)));
    const holdingWide = (key: string): boolean => Boolean(failing?.holding.has(key) || circuits?.holding.has(key));
    // Integration-wide alerts firing now or resolved lately: their connections' failures are theirs.
    const lookback = Math.max(settings.refreshFailingAfterMs, settings.errorRateWindowMs);
    let wide: Awaited<ReturnType<typeof alertStates>> | null = null;
    try {
      wide = await alertStates(db, INTEGRATION_WIDE, startedAt - lookback);
    } catch (error) {
      // Without them no integration could speak for its connections: those rules wait for the next check.
      report.failed++;
      this.deps.logger.error('alert rule check failed', { rule: 'integration-wide alerts', error });
    }
    const wideSince = (types: readonly string[], since: number) => {
      const keys = new Set<string>();
      for (const state of wide ?? []) if (types.includes(state.type) && (state.state === 'firing' || (state.resolvedAt ?? 0) >= since)) keys.add(state.key);
      return keys;
    };
    const recentBreakdown = wideSince([INTEGRATION_FAILING, INTEGRATION_CIRCUIT_OPEN], startedAt - settings.errorRateWindowMs);
    const errorRate = await run(INTEGRATION_ERROR_RATE, () =>
      findErrorRate(
        db,
        integrations,
        { since: startedAt - settings.errorRateWindowMs, windowMs: settings.errorRateWindowMs, rate: settings.errorRate, minRefreshes: settings.errorRateMinRefreshes },
        (key) => holdingWide(key) || recentBreakdown.has(key),
      ),
    );
    const recentWide = wideSince(INTEGRATION_WIDE, startedAt - settings.refreshFailingAfterMs);
    const speaksForConnections = (key: string): boolean => holdingWide(key) || Boolean(errorRate?.holding.has(key)) || recentWide.has(key);

    await run(SYSTEM_TOKEN_MISSING, () => findSystemTokenMissing(db, startedAt, settings.systemTokenGraceMs));
    await run(CONNECTION_NEEDS_REAUTH, () => findNeedsReauth(db));
    if (wide !== null) {
      await run(CONNECTION_REFRESH_FAILING, () => findRefreshFailing(db, startedAt - settings.refreshFailingAfterMs, speaksForConnections));
      await run(TOKEN_EXPIRED_WHILE_ACTIVE, () =>
        findTokenExpired(db, startedAt - settings.tokenExpiredGraceMs, (record, facts) => this.canRenew(record, facts.kind, facts.clientCredentials), speaksForConnections),
      );
    }
    // What the failure rules left firing, for this instance's refreshes (a raise here is seen anyway).
    await this.firingFailures.read().catch((error: unknown) => this.deps.logger.warn('could not read the firing failure alerts', { error }));
    await run(SWEEP_STALLED, () =>
      findSweepStalled(db, startedAt, { stalledAfterMs: settings.sweepStalledAfterMs, sweepIntervalMs: settings.sweepIntervalMs, watchingSince: this.watchingSince }),
    );
    try {
      // This instance's own rate first (it re-raises while low), then instances gone silent.
      await this.cacheHitRate.check();
      report.resolved += await resolveAlertsNotSeenSince(db, CACHE_HIT_RATE_LOW, clock.now() - CACHE_ALERT_STALE_AFTER_MS, clock.now());
      report.checked++;
    } catch (error) {
      report.failed++;
      this.deps.logger.error('alert rule check failed', { rule: CACHE_HIT_RATE_LOW, error });
    }
    report.duration_ms = Math.round(performance.now() - started);
    return report;
  }

  /** Event half of `connection_needs_reauth` (and of `system_token_missing` for a client-credentials system connection). */
  private async connectionNeedsReauth(connectionId: string): Promise<void> {
    const facts = await connectionFacts(this.deps.db, connectionId);
    if (!facts || facts.status !== 'needs_reauth') return;
    if (isReauthConnection(facts)) {
      await this.deps.alerts.raise(needsReauthAlert(facts));
    } else {
      const problem = systemTokenProblem({ connectionId: facts.id, status: facts.status, statusReason: facts.statusReason })!;
      await this.deps.alerts.raise(systemTokenMissingAlert({ integrationKey: facts.integrationKey, provider: facts.provider, problem }));
    }
    // It is no longer failing transiently nor active: those alerts are over.
    await this.resolveOf(FAILURE_RULES, connectionId);
  }

  private async resolveOf(types: readonly string[], key: string): Promise<void> {
    await resolveFiringOfKey(this.deps.db, types, key, this.deps.clock.now());
  }

  /**
   * A refresh token to renew with, or client credentials for a system connection. A token set
   * that cannot be opened (a key removed from the ring) counts as renewable: the refresher fails on
   * it, and that is what the rule reports.
   */
  private canRenew(record: ConnectionRecord, kind: 'user' | 'system', clientCredentials: boolean): boolean {
    if (kind === 'system' && clientCredentials) return true;
    try {
      return Boolean(this.deps.tokens.peekTokens(record)?.refresh_token);
    } catch {
      return true;
    }
  }

  /** Which integrations' breakers are not closed: the shared rows on PostgreSQL, this process's breakers on SQLite. */
  private async openCircuits(integrations: readonly IntegrationRecord[]): Promise<(integration: IntegrationRecord) => boolean> {
    const shared = await sharedOpenCircuits(this.deps.db);
    if (shared) return (integration) => shared.has(integration.id);
    const open = new Set<string>();
    await Promise.all(
      integrations.map(async (integration) => {
        if ((await this.deps.tokens.circuitStatus(integration.id)) !== 'closed') open.add(integration.id);
      }),
    );
    return (integration) => open.has(integration.id);
  }
}
