import type { ActionsConfig } from './actions-config.ts';
import type { AlertChannelsConfig } from './alert-channels-config.ts';
import type { AlertRulesConfig } from './alert-rules-config.ts';
import type { AppWebhooksConfig } from './app-webhook-config.ts';
import type { ProxyConfig } from './proxy-config.ts';

/**
 * Tokenkeeper's configuration, read once at start-up from the environment (and an optional
 * `.env` file) by `loadConfig`, validated, and frozen. Every field names the variable it comes
 * from; docs/configuration.md has the same table for operators.
 */
export interface Config {
  /**
   * `TOKENKEEPER_ENV`: `development` (default) or `production`. Production refuses to start
   * without encryption keys and a public URL, listens on all interfaces, logs JSON, and turns the
   * sandbox provider off by default.
   */
  env: 'development' | 'production';

  /** `TOKENKEEPER_PORT`: the HTTP port, 1-65535. Default 3170. */
  port: number;

  /**
   * `TOKENKEEPER_HOST`: the interface to listen on. Default `127.0.0.1` in development (nothing
   * outside this machine can reach a dev instance) and `0.0.0.0` in production (containers).
   */
  host: string;

  /**
   * `TOKENKEEPER_PUBLIC_URL`: the absolute http(s) URL at which browsers and providers reach this
   * service, without a trailing slash; may include a path prefix behind a reverse proxy. Default
   * `http://localhost:<port>` in development; required in production, and https there unless its
   * host is localhost / 127.0.0.1 / [::1].
   */
  publicUrl: string;

  /**
   * Derived: `<publicUrl>/oauth/callback`, the redirect URI to register at every provider
   * (RFC 6749 §3.1.2).
   */
  callbackUrl: string;

  /** `TOKENKEEPER_DATA_DIR`: absolute path of the data directory. Default `./data` under the working directory. */
  dataDir: string;

  /** Derived: `<dataDir>/tokenkeeper.db`, the SQLite database of the embedded shape. */
  databasePath: string;

  /**
   * `DATABASE_URL`: a `postgres://` or `postgresql://` URL selecting PostgreSQL (cluster and
   * serverless shapes), or null for SQLite at `databasePath`.
   */
  databaseUrl: string | null;

  /** PostgreSQL pool settings (ignored with SQLite). */
  database: {
    /** `TOKENKEEPER_DB_POOL_SIZE`: connections per process, 1-200. Default 10. */
    poolSize: number;
    /** `TOKENKEEPER_DB_STATEMENT_TIMEOUT_MS`: the server cancels a statement running longer. Default 30000. */
    statementTimeoutMs: number;
    /** `TOKENKEEPER_DB_CONNECT_TIMEOUT_MS`: how long to wait for a connection. Default 5000. */
    connectTimeoutMs: number;
  };

  /**
   * `TOKENKEEPER_ENCRYPTION_KEYS`: the key ring spec as configured (`k2:<base64>,k1:<base64>`;
   * the first key encrypts, all decrypt), already checked by the crypto key-ring parser. Null
   * when unset, which only development allows (a key is then generated into the data dir).
   */
  encryptionKeys: string | null;

  /**
   * `TOKENKEEPER_CRON_SECRET`: the bearer secret of `POST /v1/cron/:job`, at least 16
   * characters, all of them allowed in a Bearer token (RFC 6750 §2.1). Null disables the cron routes.
   */
  cronSecret: string | null;

  /**
   * `TOKENKEEPER_METRICS_TOKEN`: when set, `GET /metrics` answers only `Authorization: Bearer
   * <token>` (compared in constant time); at least 16 characters, all allowed in a Bearer token
   * (RFC 6750 §2.1). Null leaves the metrics open, for a scraper on a private network.
   */
  metricsToken: string | null;

  /** `TOKENKEEPER_LOG_LEVEL`: `debug`, `info` (default), `warn` or `error`. */
  logLevel: 'debug' | 'info' | 'warn' | 'error';

  /** `TOKENKEEPER_LOG_FORMAT`: `pretty` (default in development) or `json` (default in production). */
  logFormat: 'json' | 'pretty';

  /**
   * `TOKENKEEPER_SWEEP_INTERVAL`: seconds between proactive refresh sweeps of the in-process
   * scheduler, at least 5; default 60. 0: this instance starts no sweep (other instances or an
   * external scheduler calling the cron routes sweep); its other jobs keep their timers.
   */
  sweepIntervalSeconds: number;

  /**
   * `TOKENKEEPER_SCHEDULER`: `on` (default) runs the scheduled jobs on in-process timers; `off`
   * serves the API only, with no timer at all, for serverless deployments where a platform cron
   * calls `POST /v1/cron/:job` (a function instance is frozen between requests, so its timers
   * would fire late or never).
   */
  scheduler: 'on' | 'off';

  /**
   * `TOKENKEEPER_REFRESH_BUFFER`: seconds before expiry at which a token counts as due for
   * refresh; the default for integrations that do not set their own. Default 300.
   */
  refreshBufferSeconds: number;

  /** `TOKENKEEPER_REFRESH_TIMEOUT_MS`: timeout of one token endpoint call. Default 10000. */
  refreshTimeoutMs: number;

  /**
   * `TOKENKEEPER_LEASE_MS`: how long a refresh lease on a connection row lasts. Default 30000;
   * must exceed `refreshTimeoutMs`, so a holder's token call has ended before another process
   * may take the lease over.
   */
  leaseMs: number;

  /**
   * `TOKENKEEPER_MAX_COOLDOWN`: the longest pause, in seconds, between refresh attempts of a
   * failing connection, a provider's `Retry-After` included (a `Retry-After: 86400` would
   * otherwise park a connection for a day). 1-86400; default 3600.
   */
  maxCooldownSeconds: number;

  /**
   * `TOKENKEEPER_DASHBOARD_PASSWORD`: password of the web page, at least 12 characters. In
   * production the page is off unless this is set; in development the page needs no login.
   */
  dashboardPassword: string | null;

  /**
   * `TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS`: comma-separated origins (`scheme://host[:port]`,
   * normalised as browsers do) to which the connect flow may send the user back (`redirect_to`).
   * The service's own origin is always allowed, and in development so is any loopback origin.
   * Empty when unset.
   */
  allowedRedirectOrigins: readonly string[];

  /** The built-in sandbox OAuth provider. */
  sandbox: {
    /**
     * `TOKENKEEPER_SANDBOX`: run the sandbox beside the server (`true`/`false`, `1`/`0`,
     * `on`/`off`). Default true in development, false in production.
     */
    enabled: boolean;
    /** `TOKENKEEPER_SANDBOX_PORT`: the sandbox's port, 1-65535, not `port`. Default 3171. */
    port: number;
    /** `TOKENKEEPER_SANDBOX_TOKEN_TTL`: lifetime in seconds of sandbox access tokens. Default 120. */
    accessTokenTtlSeconds: number;
  };

  /** `TOKENKEEPER_MAX_BODY_BYTES`: largest accepted request body. Default 65536. */
  maxBodyBytes: number;

  /**
   * The operator alerts' notification policy (Alertmanager semantics), in seconds:
   * `TOKENKEEPER_ALERT_GROUP_WAIT` (default 30), `TOKENKEEPER_ALERT_GROUP_INTERVAL` (300),
   * `TOKENKEEPER_ALERT_REPEAT_INTERVAL` (21600) and `TOKENKEEPER_ALERT_ESCALATE_AFTER` (43200:
   * a MEDIUM alert firing this long becomes HIGH). Each accepts seconds or `30s`, `5m`, `6h`, `1d`.
   */
  alertPolicy: {
    groupWaitSeconds: number;
    groupIntervalSeconds: number;
    repeatIntervalSeconds: number;
    escalateAfterSeconds: number;
  };

  /**
   * Thresholds of the built-in alert rules (`TOKENKEEPER_ALERT_RULES_INTERVAL`,
   * `TOKENKEEPER_ALERT_REFRESH_FAILING_AFTER`, `TOKENKEEPER_ALERT_ERROR_RATE`, …); see
   * `alert-rules-config.ts` and docs/alerts.md.
   */
  alertRules: AlertRulesConfig;

  /**
   * The alert notification channels (console always; webhook, Slack, e-mail, SMS, PagerDuty when
   * their `TOKENKEEPER_ALERT_*`, `TOKENKEEPER_SMTP_URL`, `TOKENKEEPER_TWILIO_*` and
   * `TOKENKEEPER_PAGERDUTY_*` variables are set), each with its minimum severity. See
   * `alert-channels-config.ts` and docs/alerts.md.
   */
  alertChannels: AlertChannelsConfig;

  /**
   * Webhooks to the application: the endpoint of `TOKENKEEPER_APP_WEBHOOK_URL` and
   * `TOKENKEEPER_APP_WEBHOOK_SECRET` (both or neither), and `TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS`.
   * See `app-webhook-config.ts` and docs/webhooks.md.
   */
  appWebhooks: AppWebhooksConfig;

  /**
   * Actions on provider APIs: `TOKENKEEPER_ACTIONS_DIR` (operators' own action modules) and
   * `TOKENKEEPER_ACTIONS_DISABLED` (names switched off). See `actions-config.ts` and docs/actions.md.
   */
  actions: ActionsConfig;

  /**
   * The proxy to provider APIs: `TOKENKEEPER_PROXY_TIMEOUT_MS`, `TOKENKEEPER_PROXY_MAX_RESPONSE_BYTES`,
   * `TOKENKEEPER_PROXY_MAX_RETRIES`, `TOKENKEEPER_PROXY_MAX_RETRY_WAIT`. See `proxy-config.ts` and docs/proxy.md.
   */
  proxy: ProxyConfig;

  /**
   * Stuck-connection detection (docs/alerts.md), in seconds: a connect session started and never
   * completed for `TOKENKEEPER_STUCK_CONNECT_SESSION_AFTER` (default 1800, LOW), a connection
   * `degraded` for `TOKENKEEPER_STUCK_DEGRADED_AFTER` (3600, MEDIUM), or in `needs_reauth` for
   * `TOKENKEEPER_STUCK_NEEDS_REAUTH_AFTER` (86400, HIGH and terminal). Each accepts seconds or
   * `30m`, `1h`, `1d`.
   */
  stuck: {
    connectSessionAfterSeconds: number;
    degradedAfterSeconds: number;
    needsReauthAfterSeconds: number;
  };
}
