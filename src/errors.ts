/**
 * The one error registry. Every error Tokenkeeper reports to a client has a stable string
 * code declared here once, with its HTTP status and a default message. `docs/errors.md` is
 * kept in sync with this table by a test (test/errors-doc.test.ts).
 *
 * The API's error body is always `{ error: { code, message, details?, request_id } }` (the
 * HTTP layer adds the request id).
 */
export const errorRegistry = {
  // --- client mistakes -------------------------------------------------------------------
  invalid_request: { status: 400, message: 'The request is malformed or a field is invalid.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  invalid_id: { status: 400, message: 'The id in the path is not a valid id.' },
  unsupported_media_type: { status: 415, message: 'Send the request body as application/json.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  request_timeout: { status: 408, message: 'The request did not arrive completely in time.' },
  route_not_found: { status: 404, message: 'No such route.' },
  method_not_allowed: { status: 405, message: 'The route does not answer this method; the Allow header lists the methods it answers.' },
  unauthorized: { status: 401, message: 'Missing or invalid API key: send Authorization: Bearer <api key>.' },
  invalid_cron_secret: { status: 401, message: 'Missing or invalid cron secret: send Authorization: Bearer <TOKENKEEPER_CRON_SECRET>.' },
  metrics_unauthorized: { status: 401, message: 'Missing or invalid metrics token: send Authorization: Bearer <TOKENKEEPER_METRICS_TOKEN>.' },
  dashboard_unauthorized: { status: 401, message: 'The page needs the dashboard password (HTTP Basic, any username).' },
  cross_origin_request: { status: 403, message: 'This form can only be sent from the Tokenkeeper page itself.' },
  dashboard_rate_limited: { status: 429, message: 'Too many wrong dashboard passwords from this address; wait as long as Retry-After says.' },
  host_not_allowed: { status: 421, message: 'The page answers only under the host name of TOKENKEEPER_PUBLIC_URL (or a loopback name such as localhost).' },
  redirect_origin_not_allowed: { status: 400, message: 'redirect_to is not on an allowed origin; add the origin to TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS.' },
  cron_disabled: { status: 404, message: 'Cron routes are disabled: set TOKENKEEPER_CRON_SECRET to enable them.' },
  unknown_job: { status: 404, message: 'No such job.' },
  unknown_provider: { status: 400, message: 'No such provider in the catalog.' },
  integration_not_found: { status: 404, message: 'No such integration.' },
  integration_exists: { status: 409, message: 'An integration with this key already exists.' },
  integration_in_use: { status: 409, message: 'The integration still has connections; delete them first or pass ?force=true.' },
  integration_disabled: { status: 409, message: 'The integration is disabled.' },
  integration_changed: { status: 409, message: 'The integration kept changing while it was being updated; try again.' },
  connection_not_found: { status: 404, message: 'No such connection.' },
  api_key_not_found: { status: 404, message: 'No such API key.' },
  silence_not_found: { status: 404, message: 'No such silence.' },
  webhook_not_found: { status: 404, message: 'No such webhook endpoint.' },
  delivery_not_found: { status: 404, message: 'No such delivery of this webhook endpoint.' },
  webhook_from_environment: { status: 409, message: 'This webhook endpoint is configured by TOKENKEEPER_APP_WEBHOOK_URL; change or unset the variable and restart instead.' },
  no_system_connection: { status: 404, message: 'The integration has no usable system connection.' },
  no_usable_connection: { status: 404, message: 'The owner has no usable connection for this integration.' },
  min_validity_unsatisfiable: { status: 422, message: 'min_validity is longer than a fresh token from this provider lives.' },

  // --- connect flow ------------------------------------------------------------------------
  connect_session_not_found: { status: 404, message: 'This connect link is unknown.' },
  connect_session_expired: { status: 410, message: 'This connect link has expired; start the connection again.' },
  state_missing: { status: 400, message: 'The callback has no state parameter.' },
  state_invalid: { status: 400, message: 'The callback state is unknown or malformed.' },
  state_expired: { status: 400, message: 'The connect attempt expired; start the connection again.' },
  state_replayed: { status: 400, message: 'This callback was already used; start the connection again.' },
  code_missing: { status: 400, message: 'The callback has no authorization code.' },
  access_denied: { status: 400, message: 'The user did not grant access at the provider.' },
  provider_callback_error: { status: 400, message: 'The provider returned an error to the callback.' },
  code_exchange_failed: { status: 502, message: 'The provider rejected the authorization code.' },

  // --- tokens ------------------------------------------------------------------------------
  connection_needs_reauth: { status: 409, message: 'The connection needs the user to reconnect.' },
  refresh_token_lost: {
    status: 409,
    message: 'A refresh was interrupted after the provider had rotated the refresh token (the process crashed or stalled), so the new one could not be stored; the user must reconnect.',
  },
  integration_failing: {
    status: 503,
    message: "The provider rejected the integration's own credentials (client id or secret); an operator must fix the integration. Connections are kept as they are.",
  },
  connection_revoked: { status: 409, message: 'The connection was revoked.' },
  connection_pending: { status: 409, message: 'The connection has not completed its connect flow.' },
  no_refresh_token: { status: 409, message: 'The token expired and the connection has no refresh token.' },
  shutting_down: { status: 503, message: 'This Tokenkeeper instance is shutting down; retry shortly (another instance will answer).' },
  refresh_in_progress: { status: 503, message: 'Another process is refreshing this token; retry shortly.' },
  refresh_cooldown: { status: 503, message: 'Refresh recently failed; the connection is cooling down before the next attempt.' },
  provider_unavailable: { status: 503, message: 'The provider is unavailable (network error, timeout, 5xx or 429).' },
  circuit_open: { status: 503, message: 'Too many recent failures at this provider; calls are paused briefly.' },
  invalid_provider_response: { status: 502, message: 'The provider answered with something that is not a valid OAuth response.' },
  provider_error: { status: 502, message: 'The provider rejected the request.' },

  // --- proxy (src/proxy/) ---------------------------------------------------------------------
  proxy_path_invalid: { status: 400, message: "The proxied path must stay under the integration's API base URL: no absolute URL, no `//`, no `..` or encoded traversal, no backslash." },
  proxy_not_configured: { status: 409, message: 'The integration has no API base URL to proxy to; set settings.apiBaseUrl (required for custom and oidc).' },
  proxy_rate_limited: { status: 429, message: "The integration's outbound rate limit is exhausted; retry after Retry-After." },
  proxy_response_too_large: { status: 502, message: "The provider's answer is larger than TOKENKEEPER_PROXY_MAX_RESPONSE_BYTES." },
  proxy_upstream_unreachable: { status: 502, message: 'The provider could not be reached (connection refused, DNS, TLS or a reset before an answer).' },
  proxy_timeout: { status: 504, message: 'The provider did not answer within TOKENKEEPER_PROXY_TIMEOUT_MS.' },

  // --- actions (src/actions/) -------------------------------------------------------------------
  action_not_found: { status: 404, message: "No such action, or the connection's integration does not offer it; GET /v1/actions lists them." },
  action_disabled: { status: 501, message: 'The action is turned off (TOKENKEEPER_ACTIONS_DISABLED, or actions_enabled false on the integration); nothing was sent.' },
  idempotency_key_reused: { status: 422, message: 'This Idempotency-Key was already used with a different input for this action and connection; use a new key for a new request.' },
  idempotency_key_in_use: { status: 409, message: 'An execution with this Idempotency-Key is still running; retry after Retry-After to get its outcome.' },
  provider_rejected: { status: 502, message: "The provider refused the action's request (a 4xx answer, or one that says it failed); details.provider_status and details.provider_error say how." },

  // --- server side ---------------------------------------------------------------------------
  storage_unavailable: { status: 503, message: 'Storage is unreachable.' },
  decryption_failed: { status: 500, message: 'A stored secret could not be decrypted with the configured keys.' },
  config_invalid: { status: 500, message: 'The configuration is invalid.' },
  internal_error: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorRegistry;

export interface TokenkeeperErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  /** For 503s: when the caller may retry (sent as `Retry-After`). */
  retryAfterMs?: number;
}

/** The one error type that crosses module boundaries; `http/` maps it to JSON. */
export class TokenkeeperError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message?: string, options: TokenkeeperErrorOptions = {}) {
    super(message ?? errorRegistry[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TokenkeeperError';
    this.code = code;
    this.status = errorRegistry[code].status;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/**
 * 503s for a known, expected condition: the provider is down or rate-limiting, another process
 * is refreshing, a cooldown or an open circuit is protecting the provider, storage is briefly
 * unreachable, the instance is draining, or an operator must fix an integration (which is
 * reported on its own). Logged as warnings, not as errors that page someone.
 */
const TRANSIENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'provider_unavailable',
  'refresh_in_progress',
  'refresh_cooldown',
  'circuit_open',
  'storage_unavailable',
  'shutting_down',
  'integration_failing',
  // The proxy's provider did not answer, or answered too much: the provider's trouble, not ours.
  'proxy_timeout',
  'proxy_upstream_unreachable',
  'proxy_response_too_large',
]);

export function isTransientError(code: ErrorCode): boolean {
  return TRANSIENT_CODES.has(code);
}

export function isTokenkeeperError(value: unknown, code?: ErrorCode): value is TokenkeeperError {
  return value instanceof TokenkeeperError && (code === undefined || value.code === code);
}
