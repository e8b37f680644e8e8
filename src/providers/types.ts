/**
 * The shape of a provider catalog entry. An entry is data (endpoints, scopes, refresh behaviour)
 * plus a few small quirk hooks; the protocol code in `oauth/` reads both and never branches on a
 * provider's name (STYLE.md §3).
 */
export interface ProviderEntry {
  /** Stable catalog key stored on integrations: 'google', 'slack', 'oidc', … */
  key: string;
  displayName: string;
  /** The provider's own documentation for the facts in this entry. */
  docsUrl: string;
  /**
   * Endpoints come from issuer discovery (OpenID Connect Discovery 1.0, falling back to RFC 8414)
   * instead of the fields below.
   */
  discovery: boolean;
  /**
   * The issuer identifier. For discovery entries, where discovery starts when fixed; for others,
   * the value ID tokens and RFC 9207 `iss` callback parameters are checked against.
   */
  issuer?: string;
  /**
   * Endpoint URLs. `{tenant}` is replaced by the integration's `tenant` setting (Microsoft).
   */
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  revocationEndpoint?: string;
  userinfoEndpoint?: string;
  /**
   * Base URL of the provider's API, where the proxy (`/v1/proxy/:connection_id/<path>`, src/proxy/)
   * sends requests with the connection's token: `https://www.googleapis.com`, `https://slack.com/api`.
   * `{settings.<name>}` and `{metadata.<name>}` stand for an integration setting or a field of the
   * connection's metadata (Salesforce: `{metadata.instance_url}`, from the token response). Absent
   * when it cannot be known (`custom`, `oidc`); `settings.apiBaseUrl` overrides it for every provider.
   */
  apiBaseUrl?: string;
  /** Used when an integration configures no scopes. */
  defaultScopes: string[];
  /** How scopes are joined in the authorization request (RFC 6749 §3.3 says space; some use commas). */
  scopeSeparator: ' ' | ',';
  /** Extra authorization request parameters, e.g. Google's `access_type=offline`. */
  authorizationParams: Record<string, string>;
  /** Send an RFC 7636 S256 code challenge (and the verifier at the token endpoint). */
  pkce: boolean;
  /** RFC 6749 §2.3.1: HTTP Basic or credentials in the form body. */
  clientAuth: 'client_secret_basic' | 'client_secret_post';
  refresh: {
    /** False when the provider issues no refresh tokens (GitHub OAuth Apps: tokens do not expire). */
    supported: boolean;
    /**
     * 'always': every refresh returns a new refresh token and the old one stops working (or may);
     * 'optional': a new one may be returned; 'never': the same refresh token is reused.
     */
    rotation: 'always' | 'optional' | 'never';
    /** Refresh tokens die after this many days unused (Google 180): the sweep exercises them before. */
    maxIdleDays: number | null;
  };
  /**
   * RFC 6749 §5.1 makes `expires_in` only RECOMMENDED. Used when it is absent; null means the
   * provider documents such tokens as non-expiring (expiresAt null).
   */
  defaultAccessTokenLifetimeSeconds: number | null;
  /**
   * Outbound, client-side limits for every call to this provider: token requests, and the
   * application's own API calls through the proxy and actions. One integration is one client
   * app, so this is the app-wide figure (across all its users, workspaces or tenants): the
   * provider's documented per-app limit less a margin where it documents one, else a
   * conservative value that still carries real traffic. A limit per user or per workspace is the
   * provider's to enforce; set this as low as one of those and a busy app stalls on itself.
   */
  rateLimit: RateLimit;
  /** Integration settings that must be present (e.g. oidc: ['issuer']). */
  requiredSettings: Array<keyof IntegrationSettings>;
  quirks: ProviderQuirks;
}

/** Provider-specific behaviour, kept beside the entry instead of as ifs in the refresh code. */
export interface ProviderQuirks {
  /**
   * Rewrite a token-endpoint (and revocation-endpoint) response before standard processing:
   * GitHub answers errors with HTTP 200 + {error}; Slack with HTTP 200 + {ok:false, error}.
   * `body` is the parsed JSON (or form-encoded) body, or null when it could not be parsed.
   */
  normalizeTokenResponse?(status: number, body: unknown): { status: number; body: unknown };
  /**
   * Error codes beyond RFC 6749 §5.2 that mean the user must reconnect (matched against both
   * `error` and `error_subtype`): GitHub `bad_refresh_token`, Slack `invalid_refresh_token`, Google `invalid_rapt`.
   */
  permanentErrors?: string[];
  /**
   * Error codes beyond `invalid_client` / `unauthorized_client` that blame the integration's own
   * credentials, so an operator must fix the integration and no user is sent to reconnect:
   * GitHub `incorrect_client_credentials` (with HTTP 200), Slack `invalid_client_id`, `bad_client_secret`.
   */
  integrationErrors?: string[];
  /** Error codes that are transient for this provider (e.g. Slack `ratelimited`). */
  transientErrors?: string[];
  /** Account identity when there is no ID token or userinfo (Slack team/user; Salesforce `id` URL). */
  accountFromTokenResponse?(body: Record<string, unknown>): { accountId: string; label: string | null } | null;
  /** Token-response fields worth keeping in connection metadata (Salesforce `instance_url`, Slack `team`). */
  metadataFields?: string[];
  /** Extra headers for token-endpoint requests (GitHub: `Accept: application/json`). */
  tokenRequestHeaders?: Record<string, string>;
  /**
   * The issuer an ID token must carry when it cannot be fixed in advance. Microsoft's
   * multi-tenant endpoints issue `https://login.microsoftonline.com/{tid}/v2.0` per tenant; Google
   * uses `accounts.google.com` with or without scheme. Return null to reject the ID token.
   */
  idTokenIssuer?(claims: Record<string, unknown>): string | null;
}

/** Per-integration settings, validated by `validateIntegrationSettings`. */
export interface IntegrationSettings {
  issuer?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  revocationEndpoint?: string;
  userinfoEndpoint?: string;
  /** Microsoft: tenant id, domain, or 'common' (default), 'organizations', 'consumers'. */
  tenant?: string;
  /**
   * Base URL of the provider's API for the proxy (https, or http on a loopback host; no query,
   * fragment or credentials). Required to proxy through `custom` and `oidc`; overrides the
   * catalog's for the others (e.g. a GitHub Enterprise Server `https://ghe.example.com/api/v3`).
   */
  apiBaseUrl?: string;
  authorizationParams?: Record<string, string>;
  scopeSeparator?: ' ' | ',';
  clientAuth?: 'client_secret_basic' | 'client_secret_post';
  pkce?: boolean;
  defaultAccessTokenLifetimeSeconds?: number | null;
  /**
   * Days after which an unused refresh token dies at this provider (overrides the catalog's
   * `refresh.maxIdleDays`; e.g. Xero's 60 through `custom`). The sweep exercises refresh tokens
   * idle for half of it. null: they do not die unused.
   */
  refreshTokenMaxIdleDays?: number | null;
  /**
   * Client-side outbound limits for this integration, field by field over the catalog's
   * `rateLimit` (e.g. a provider app with a lower quota than the catalog assumes).
   */
  rateLimit?: Partial<RateLimit>;
}

/** Outbound calls to one integration's provider: a token bucket per minute plus a concurrency cap. */
export interface RateLimit {
  requestsPerMinute: number;
  concurrency: number;
  /**
   * A per-second cap, for providers that enforce their limit per second. Without it the bucket
   * may hold a sixth of a minute's budget; with it, at most a twentieth of a second's, so calls
   * are paced evenly and no one-second window sees more than 1.05 times this rate.
   */
  requestsPerSecond?: number;
}
