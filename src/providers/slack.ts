import type { ProviderEntry } from './types.ts';

/**
 * Slack OAuth v2 with token rotation (opt-in and irreversible per app): access tokens live 12 h
 * (`expires_in` 43200, `xoxe.` prefix) and each refresh revokes the refresh token it used.
 * Without rotation, tokens never expire and there is no `expires_in`.
 *
 * Slack's Web API answers errors with HTTP 200 and `{ok: false, error}`. Its `token_type` is
 * `bot` or `user` (both are sent as bearer tokens). When an app asks only for user scopes the
 * user token sits in `authed_user` rather than at the top level. Slack's `auth.revoke` is not an
 * RFC 7009 endpoint (it authenticates with the token itself), so revocation is left out.
 */
export const slack: ProviderEntry = {
  key: 'slack',
  displayName: 'Slack',
  docsUrl: 'https://docs.slack.dev/authentication/using-token-rotation',
  discovery: false,
  authorizationEndpoint: 'https://slack.com/oauth/v2/authorize',
  tokenEndpoint: 'https://slack.com/api/oauth.v2.access',
  apiBaseUrl: 'https://slack.com/api',
  defaultScopes: [],
  scopeSeparator: ',',
  authorizationParams: {},
  pkce: false,
  clientAuth: 'client_secret_basic',
  refresh: { supported: true, rotation: 'always', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: null,
  // Slack's tiers (Tier 1 1+/min … Tier 4 100+/min) are per method per workspace, nothing app-wide: 100/s across all workspaces, each workspace's tier Slack's to enforce.
  rateLimit: { requestsPerMinute: 6_000, concurrency: 100 },
  requiredSettings: [],
  quirks: {
    normalizeTokenResponse(status, body) {
      if (!isObject(body)) return { status, body };
      if (body.ok === false) {
        // A Slack error is a protocol error, not a success: give it the RFC 6749 §5.2 shape.
        const retryable = body.error === 'ratelimited' ? 429 : 400;
        return { status: status === 200 ? retryable : status, body: { ...body, error: String(body.error ?? 'unknown_error') } };
      }
      const normalized: Record<string, unknown> = { ...body };
      const user = isObject(body.authed_user) ? body.authed_user : null;
      if (typeof normalized.access_token !== 'string' && user && typeof user.access_token === 'string') {
        // User-scope-only install: the token this connection is about lives in authed_user.
        for (const field of ['access_token', 'refresh_token', 'expires_in', 'scope', 'token_type'] as const) {
          if (user[field] !== undefined) normalized[field] = user[field];
        }
      }
      if (normalized.token_type === 'bot' || normalized.token_type === 'user') normalized.token_type = 'bearer';
      return { status, body: normalized };
    },
    permanentErrors: [
      'invalid_refresh_token', 'token_revoked', 'token_expired', 'invalid_auth', 'account_inactive',
      'invalid_code', 'code_already_used', 'invalid_grant_type',
      'bad_redirect_uri', 'oauth_authorization_url_mismatch', 'app_uninstalled', 'not_authed',
    ],
    /** The app's client id or secret is wrong: every user of the integration would get it. */
    integrationErrors: ['invalid_client_id', 'bad_client_secret'],
    transientErrors: ['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout'],
    accountFromTokenResponse(body) {
      const team = isObject(body.team) ? body.team : null;
      const user = isObject(body.authed_user) ? body.authed_user : null;
      const teamId = typeof team?.id === 'string' ? team.id : null;
      const userId = typeof user?.id === 'string' ? user.id : null;
      if (!teamId && !userId) return null;
      const teamName = typeof team?.name === 'string' ? team.name : null;
      return { accountId: [teamId, userId].filter(Boolean).join(':'), label: teamName };
    },
    metadataFields: ['team', 'enterprise', 'app_id', 'bot_user_id', 'is_enterprise_install'],
  },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}
