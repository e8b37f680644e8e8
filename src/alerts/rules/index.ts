export { AlertRules, type AlertRulesDeps, type AlertRulesReport, type RuleTokenAccess } from './alert-rules.ts';
export { alertRuleSettingsOf, type AlertRuleSettings, type AlertRulesConfigInput } from './alert-rule-settings.ts';
export {
  BUILT_IN_ALERTS,
  CACHE_HIT_RATE_LOW,
  CONNECTION_NEEDS_REAUTH,
  CONNECTION_REFRESH_FAILING,
  INTEGRATION_CIRCUIT_OPEN,
  INTEGRATION_ERROR_RATE,
  INTEGRATION_FAILING,
  RULE_PHRASES,
  SWEEP_STALLED,
  SYSTEM_TOKEN_MISSING,
  TOKEN_EXPIRED_WHILE_ACTIVE,
  type BuiltInAlert,
} from './built-in-alerts.ts';
export { CACHE_ALERT_STALE_AFTER_MS, CACHE_CHECK_EVERY_MS, CacheHitRateRule, SlidingHitWindow } from './cache-hit-rate.ts';
export { countAlertNotifications, countFiringAlerts } from './alert-counts.ts';
export { FiringAlertKeys, type FiringAlertKeysOptions } from './firing-alert-keys.ts';
