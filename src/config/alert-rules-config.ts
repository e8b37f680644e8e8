import type { VariableReader } from './variable-reader.ts';

/**
 * The thresholds of the built-in alert rules (docs/alerts.md, "Built-in rules"). Durations are
 * seconds, rates whole percentages. Read here, validated with the rest of the configuration;
 * `src/alerts/rules/` turns them into milliseconds and ratios.
 */
export interface AlertRulesConfig {
  /** `TOKENKEEPER_ALERT_RULES_INTERVAL`: how often the rules are checked against the database. Default 30. */
  intervalSeconds: number;
  /** `TOKENKEEPER_ALERT_REFRESH_FAILING_AFTER`: a connection whose refreshes fail this long raises `connection_refresh_failing`. Default 900. */
  refreshFailingAfterSeconds: number;
  /** `TOKENKEEPER_ALERT_TOKEN_EXPIRED_GRACE`: how long past its expiry an active connection's token may be before `token_expired_while_active`. Default 60. */
  tokenExpiredGraceSeconds: number;
  /** `TOKENKEEPER_ALERT_ERROR_RATE`: share of failed refreshes (percent) that raises `integration_error_rate`. Default 50. */
  errorRatePercent: number;
  /** `TOKENKEEPER_ALERT_ERROR_RATE_WINDOW`: the window the error rate is measured over. Default 900. */
  errorRateWindowSeconds: number;
  /** `TOKENKEEPER_ALERT_ERROR_RATE_MIN_REFRESHES`: fewer refreshes than this in the window never raise it. Default 20. */
  errorRateMinRefreshes: number;
  /**
   * `TOKENKEEPER_ALERT_SWEEP_STALLED_AFTER`: no completed sweep for this long raises
   * `sweep_stalled`. Default three sweep intervals (three minutes when this instance's sweep
   * interval is 0); 0 turns the rule off.
   */
  sweepStalledAfterSeconds: number;
  /** `TOKENKEEPER_ALERT_CACHE_HIT_RATE`: a token cache hit rate below this (percent) raises `cache_hit_rate_low`; 0 turns the rule off. Default 70. */
  cacheHitRatePercent: number;
  /** `TOKENKEEPER_ALERT_CACHE_HIT_RATE_WINDOW`: the sliding window of the hit rate. Default 900. */
  cacheHitRateWindowSeconds: number;
  /** `TOKENKEEPER_ALERT_CACHE_HIT_RATE_MIN_REQUESTS`: fewer token requests than this in the window never raise it. Default 100. */
  cacheHitRateMinRequests: number;
}

/** When the sweep is off on this instance (interval 0), other instances or a cron sweep; this is the interval assumed. */
const ASSUMED_SWEEP_INTERVAL_SECONDS = 60;

/** Reads and checks the rule thresholds; problems are recorded on `read`. */
export function readAlertRules(read: VariableReader, sweepIntervalSeconds: number): AlertRulesConfig {
  const sweepInterval = sweepIntervalSeconds > 0 ? sweepIntervalSeconds : ASSUMED_SWEEP_INTERVAL_SECONDS;
  const sweepStalledName = 'TOKENKEEPER_ALERT_SWEEP_STALLED_AFTER';
  const sweepStalledAfterSeconds = read.duration(sweepStalledName, 3 * sweepInterval, { min: 0, max: 7 * 86_400 });
  if (read.has(sweepStalledName) && sweepStalledAfterSeconds > 0 && sweepStalledAfterSeconds <= sweepInterval && !read.hasProblem(sweepStalledName)) {
    // A threshold inside one interval would fire between two healthy sweeps.
    read.fail(
      sweepStalledName,
      `${sweepStalledAfterSeconds} s is not longer than the sweep interval (${sweepInterval} s${sweepIntervalSeconds > 0 ? ', TOKENKEEPER_SWEEP_INTERVAL' : ' assumed while TOKENKEEPER_SWEEP_INTERVAL is 0'}); use a few intervals (e.g. ${3 * sweepInterval}), or 0 to turn the rule off`,
    );
  }
  return {
    intervalSeconds: read.duration('TOKENKEEPER_ALERT_RULES_INTERVAL', 30, { min: 5, max: 3_600 }),
    refreshFailingAfterSeconds: read.duration('TOKENKEEPER_ALERT_REFRESH_FAILING_AFTER', 900, { min: 60, max: 7 * 86_400 }),
    tokenExpiredGraceSeconds: read.duration('TOKENKEEPER_ALERT_TOKEN_EXPIRED_GRACE', 60, { min: 0, max: 86_400 }),
    errorRatePercent: read.integer('TOKENKEEPER_ALERT_ERROR_RATE', 50, { min: 1, max: 100, unit: 'percent' }),
    errorRateWindowSeconds: read.duration('TOKENKEEPER_ALERT_ERROR_RATE_WINDOW', 900, { min: 60, max: 86_400 }),
    errorRateMinRefreshes: read.integer('TOKENKEEPER_ALERT_ERROR_RATE_MIN_REFRESHES', 20, { min: 1, max: 1_000_000, unit: 'refreshes' }),
    sweepStalledAfterSeconds,
    cacheHitRatePercent: read.integer('TOKENKEEPER_ALERT_CACHE_HIT_RATE', 70, { min: 0, max: 100, unit: 'percent' }),
    cacheHitRateWindowSeconds: read.duration('TOKENKEEPER_ALERT_CACHE_HIT_RATE_WINDOW', 900, { min: 60, max: 86_400 }),
    cacheHitRateMinRequests: read.integer('TOKENKEEPER_ALERT_CACHE_HIT_RATE_MIN_REQUESTS', 100, { min: 1, max: 10_000_000, unit: 'requests' }),
  };
}
