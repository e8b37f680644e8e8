/**
 * Every variable `loadConfig` reads. The list drives the typo check (an unknown `TOKENKEEPER_*`
 * name is an error with the closest known name suggested) and a test that keeps
 * docs/configuration.md complete. `secret` values are never echoed in error messages.
 */
export interface ConfigVariable {
  name: string;
  secret: boolean;
}

export const configVariables: readonly ConfigVariable[] = Object.freeze(
  [
    { name: 'TOKENKEEPER_ENV', secret: false },
    { name: 'TOKENKEEPER_PORT', secret: false },
    { name: 'TOKENKEEPER_HOST', secret: false },
    { name: 'TOKENKEEPER_PUBLIC_URL', secret: false },
    { name: 'TOKENKEEPER_DATA_DIR', secret: false },
    { name: 'DATABASE_URL', secret: true },
    { name: 'TOKENKEEPER_DB_POOL_SIZE', secret: false },
    { name: 'TOKENKEEPER_DB_STATEMENT_TIMEOUT_MS', secret: false },
    { name: 'TOKENKEEPER_DB_CONNECT_TIMEOUT_MS', secret: false },
    { name: 'TOKENKEEPER_ENCRYPTION_KEYS', secret: true },
    { name: 'TOKENKEEPER_CRON_SECRET', secret: true },
    { name: 'TOKENKEEPER_METRICS_TOKEN', secret: true },
    { name: 'TOKENKEEPER_LOG_LEVEL', secret: false },
    { name: 'TOKENKEEPER_LOG_FORMAT', secret: false },
    { name: 'TOKENKEEPER_SWEEP_INTERVAL', secret: false },
    { name: 'TOKENKEEPER_SCHEDULER', secret: false },
    { name: 'TOKENKEEPER_REFRESH_BUFFER', secret: false },
    { name: 'TOKENKEEPER_REFRESH_TIMEOUT_MS', secret: false },
    { name: 'TOKENKEEPER_LEASE_MS', secret: false },
    { name: 'TOKENKEEPER_MAX_COOLDOWN', secret: false },
    { name: 'TOKENKEEPER_DASHBOARD_PASSWORD', secret: true },
    { name: 'TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS', secret: false },
    { name: 'TOKENKEEPER_SANDBOX', secret: false },
    { name: 'TOKENKEEPER_SANDBOX_PORT', secret: false },
    { name: 'TOKENKEEPER_SANDBOX_TOKEN_TTL', secret: false },
    { name: 'TOKENKEEPER_MAX_BODY_BYTES', secret: false },
    { name: 'TOKENKEEPER_ALERT_GROUP_WAIT', secret: false },
    { name: 'TOKENKEEPER_ALERT_GROUP_INTERVAL', secret: false },
    { name: 'TOKENKEEPER_ALERT_REPEAT_INTERVAL', secret: false },
    { name: 'TOKENKEEPER_ALERT_ESCALATE_AFTER', secret: false },
    { name: 'TOKENKEEPER_ALERT_RULES_INTERVAL', secret: false },
    { name: 'TOKENKEEPER_ALERT_REFRESH_FAILING_AFTER', secret: false },
    { name: 'TOKENKEEPER_ALERT_TOKEN_EXPIRED_GRACE', secret: false },
    { name: 'TOKENKEEPER_ALERT_ERROR_RATE', secret: false },
    { name: 'TOKENKEEPER_ALERT_ERROR_RATE_WINDOW', secret: false },
    { name: 'TOKENKEEPER_ALERT_ERROR_RATE_MIN_REFRESHES', secret: false },
    { name: 'TOKENKEEPER_ALERT_SWEEP_STALLED_AFTER', secret: false },
    { name: 'TOKENKEEPER_ALERT_CACHE_HIT_RATE', secret: false },
    { name: 'TOKENKEEPER_ALERT_CACHE_HIT_RATE_WINDOW', secret: false },
    { name: 'TOKENKEEPER_ALERT_CACHE_HIT_RATE_MIN_REQUESTS', secret: false },
    { name: 'TOKENKEEPER_ALERT_CHANNEL_TIMEOUT_MS', secret: false },
    { name: 'TOKENKEEPER_ALERT_CONSOLE_MIN_SEVERITY', secret: false },
    // A webhook or Slack URL may carry a token in its path or query: never echoed.
    { name: 'TOKENKEEPER_ALERT_WEBHOOK_URL', secret: true },
    { name: 'TOKENKEEPER_ALERT_WEBHOOK_SECRET', secret: true },
    { name: 'TOKENKEEPER_ALERT_WEBHOOK_MIN_SEVERITY', secret: false },
    { name: 'TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL', secret: true },
    { name: 'TOKENKEEPER_ALERT_SLACK_MIN_SEVERITY', secret: false },
    { name: 'TOKENKEEPER_SMTP_URL', secret: true },
    { name: 'TOKENKEEPER_ALERT_EMAIL_FROM', secret: false },
    { name: 'TOKENKEEPER_ALERT_EMAIL_TO', secret: false },
    { name: 'TOKENKEEPER_ALERT_EMAIL_MIN_SEVERITY', secret: false },
    { name: 'TOKENKEEPER_TWILIO_ACCOUNT_SID', secret: false },
    { name: 'TOKENKEEPER_TWILIO_AUTH_TOKEN', secret: true },
    { name: 'TOKENKEEPER_TWILIO_FROM', secret: false },
    { name: 'TOKENKEEPER_TWILIO_API_URL', secret: false },
    { name: 'TOKENKEEPER_ALERT_SMS_TO', secret: false },
    { name: 'TOKENKEEPER_ALERT_SMS_MIN_SEVERITY', secret: false },
    { name: 'TOKENKEEPER_PAGERDUTY_ROUTING_KEY', secret: true },
    { name: 'TOKENKEEPER_PAGERDUTY_API_URL', secret: false },
    { name: 'TOKENKEEPER_ALERT_PAGERDUTY_MIN_SEVERITY', secret: false },
    // The application's webhook endpoint: its URL may carry the receiver's token, never echoed.
    { name: 'TOKENKEEPER_APP_WEBHOOK_URL', secret: true },
    { name: 'TOKENKEEPER_APP_WEBHOOK_SECRET', secret: true },
    { name: 'TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS', secret: false },
    { name: 'TOKENKEEPER_STUCK_CONNECT_SESSION_AFTER', secret: false },
    { name: 'TOKENKEEPER_STUCK_DEGRADED_AFTER', secret: false },
    { name: 'TOKENKEEPER_STUCK_NEEDS_REAUTH_AFTER', secret: false },
  ].map((variable) => Object.freeze(variable)),
);

export const VARIABLE_PREFIX = 'TOKENKEEPER_';
