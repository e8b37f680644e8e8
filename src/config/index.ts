/**
 * Configuration: the only reader of `process.env`. Parse, sanitize, validate loudly, freeze.
 */
export type { Config } from './config.ts';
export { ConfigError, type ConfigProblem } from './config-error.ts';
export { loadConfig, type LoadConfigOptions } from './load-config.ts';
export { parseDotenv } from './parse-dotenv.ts';
export { sanitizeValue } from './sanitize-value.ts';
export { configVariables, type ConfigVariable } from './config-variables.ts';
export type { AlertChannelsConfig, AlertSeverity } from './alert-channels-config.ts';
export type { AlertRulesConfig } from './alert-rules-config.ts';
export type { AppWebhooksConfig } from './app-webhook-config.ts';
export { ACTION_NAME_PATTERN, type ActionsConfig } from './actions-config.ts';
export type { ProxyConfig } from './proxy-config.ts';
