import type { Severity } from '../channel.ts';
import type { GroupPhrase } from '../notification-text.ts';
import { CHANNEL_FAILING } from '../notifier.ts';

/** A connection went to `needs_reauth`: its user must connect again (key: the connection id). */
export const CONNECTION_NEEDS_REAUTH = 'connection_needs_reauth';
/** A connection's refreshes have failed (temporarily) for longer than the threshold (key: the connection id). */
export const CONNECTION_REFRESH_FAILING = 'connection_refresh_failing';
/** An active connection's access token expired and was not renewed: the refresher failed (key: the connection id). */
export const TOKEN_EXPIRED_WHILE_ACTIVE = 'token_expired_while_active';
/** The integration's circuit breaker is open: its provider keeps failing (key: the integration key). */
export const INTEGRATION_CIRCUIT_OPEN = 'integration_circuit_open';
/** Too many of the integration's refreshes fail (key: the integration key). */
export const INTEGRATION_ERROR_RATE = 'integration_error_rate';
/** The provider rejects the integration's own credentials (key: the integration key). */
export const INTEGRATION_FAILING = 'integration_failing';
/** An integration that mints a system token by client credentials has none that works (key: the integration key). */
export const SYSTEM_TOKEN_MISSING = 'system_token_missing';
/** The refresh sweep has not completed for several intervals (key: the job, `refresh`). */
export const SWEEP_STALLED = 'sweep_stalled';
/** An instance serves too few token requests without a refresh (key: the instance). */
export const CACHE_HIT_RATE_LOW = 'cache_hit_rate_low';

export { CHANNEL_FAILING };

/** One built-in rule, as docs/alerts.md lists it. */
export interface BuiltInAlert {
  type: string;
  /** The severity it is raised with (a MEDIUM alert still escalates after TOKENKEEPER_ALERT_ESCALATE_AFTER). */
  severity: Severity | 'MEDIUM or HIGH';
  key: string;
}

/** Every alert type Tokenkeeper raises by itself. */
export const BUILT_IN_ALERTS: readonly BuiltInAlert[] = Object.freeze([
  { type: CONNECTION_NEEDS_REAUTH, severity: 'MEDIUM or HIGH', key: 'connection id' },
  { type: CONNECTION_REFRESH_FAILING, severity: 'MEDIUM', key: 'connection id' },
  { type: TOKEN_EXPIRED_WHILE_ACTIVE, severity: 'HIGH', key: 'connection id' },
  { type: INTEGRATION_CIRCUIT_OPEN, severity: 'MEDIUM', key: 'integration key' },
  { type: INTEGRATION_ERROR_RATE, severity: 'MEDIUM', key: 'integration key' },
  { type: INTEGRATION_FAILING, severity: 'HIGH', key: 'integration key' },
  { type: SYSTEM_TOKEN_MISSING, severity: 'HIGH', key: 'integration key' },
  { type: SWEEP_STALLED, severity: 'HIGH', key: 'refresh' },
  { type: CACHE_HIT_RATE_LOW, severity: 'LOW', key: 'instance' },
  { type: CHANNEL_FAILING, severity: 'HIGH', key: 'channel name' },
] satisfies BuiltInAlert[]);

/** The integration-wide alerts: while one holds, the per-connection failure rules keep quiet about its connections. */
export const INTEGRATION_WIDE = Object.freeze([INTEGRATION_FAILING, INTEGRATION_CIRCUIT_OPEN, INTEGRATION_ERROR_RATE]);

const plural = (count: number, one: string, many: string): string => (count === 1 ? one : many);
const of = (labels: Record<string, string>): string => (labels.integration ? `${labels.integration} ` : '');

/**
 * How a group of the per-connection types reads in one notification line ("3 google connections
 * have expired tokens …"), like `connection_needs_reauth`'s. The other built-in types are keyed
 * by integration (or are one of a kind), so their group holds one alert, whose summary says more.
 */
export const RULE_PHRASES: Readonly<Record<string, GroupPhrase>> = Object.freeze({
  [CONNECTION_REFRESH_FAILING]: (count, labels) =>
    `${count} ${of(labels)}${plural(count, 'connection has', 'connections have')} been failing to refresh`,
  [TOKEN_EXPIRED_WHILE_ACTIVE]: (count, labels) =>
    `${count} ${of(labels)}${plural(count, 'connection has an expired token', 'connections have expired tokens')} the refresher did not renew`,
});
