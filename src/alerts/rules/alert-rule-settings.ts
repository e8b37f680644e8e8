import type { AlertRulesConfig } from '../../config/alert-rules-config.ts';

/**
 * The thresholds of the built-in rules, in milliseconds and ratios (the configuration's
 * `alertRules`, in seconds and percent, converted by `alertRuleSettingsOf`).
 */
export interface AlertRuleSettings {
  /** How often the `alert-rules` job checks every rule against the database. */
  intervalMs: number;
  /** `connection_refresh_failing` after refreshes have failed this long. */
  refreshFailingAfterMs: number;
  /** `token_expired_while_active` once the token is this far past its expiry. */
  tokenExpiredGraceMs: number;
  /** `integration_error_rate` at or above this share (0-1] of failed refreshes … */
  errorRate: number;
  /** … over this window … */
  errorRateWindowMs: number;
  /** … with at least this many refreshes in it. */
  errorRateMinRefreshes: number;
  /** `sweep_stalled` after no completed sweep for this long; 0: the rule is off. */
  sweepStalledAfterMs: number;
  /** `system_token_missing` waits this long after an integration changes (the sweep's chance to mint the token). */
  systemTokenGraceMs: number;
  /** The refresh sweep's interval, for the sweep alert's text. */
  sweepIntervalMs: number;
  /** `cache_hit_rate_low` below this share [0-1]; 0: the rule is off. */
  cacheHitRate: number;
  cacheHitRateWindowMs: number;
  cacheHitRateMinRequests: number;
}

/** The configuration's thresholds (seconds and percent), as read and checked in src/config. */
export type AlertRulesConfigInput = AlertRulesConfig;

/** The rule settings of a configuration (`config.alertRules`, `config.sweepIntervalSeconds`). */
export function alertRuleSettingsOf(rules: AlertRulesConfigInput, sweepIntervalSeconds: number): AlertRuleSettings {
  const sweepIntervalMs = (sweepIntervalSeconds > 0 ? sweepIntervalSeconds : 60) * 1000;
  return {
    intervalMs: rules.intervalSeconds * 1000,
    refreshFailingAfterMs: rules.refreshFailingAfterSeconds * 1000,
    tokenExpiredGraceMs: rules.tokenExpiredGraceSeconds * 1000,
    errorRate: rules.errorRatePercent / 100,
    errorRateWindowMs: rules.errorRateWindowSeconds * 1000,
    errorRateMinRefreshes: rules.errorRateMinRefreshes,
    sweepStalledAfterMs: rules.sweepStalledAfterSeconds * 1000,
    // Three sweeps' worth of chances, like the stalled sweep (which says so when that is the cause).
    systemTokenGraceMs: Math.max(3 * sweepIntervalMs, rules.sweepStalledAfterSeconds * 1000),
    sweepIntervalMs,
    cacheHitRate: rules.cacheHitRatePercent / 100,
    cacheHitRateWindowMs: rules.cacheHitRateWindowSeconds * 1000,
    cacheHitRateMinRequests: rules.cacheHitRateMinRequests,
  };
}
