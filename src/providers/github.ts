import type { ProviderEntry, ProviderQuirks } from './types.ts';

/**
 * GitHub answers token-endpoint errors with HTTP 200 and an `error` field, and answers
 * form-encoded unless asked for JSON. Shared by the OAuth App and GitHub App entries.
 */
export const githubTokenQuirks: ProviderQuirks = {
  tokenRequestHeaders: { accept: 'application/json' },
  normalizeTokenResponse(status, body) {
    if (status === 200 && isErrorBody(body)) return { status: 400, body };
    return { status, body };
  },
  /** `bad_refresh_token`: expired, already used (strict rotation) or revoked. `bad_verification_code`: a dead authorization code. */
  permanentErrors: ['bad_refresh_token', 'bad_verification_code', 'redirect_uri_mismatch', 'unverified_user_email'],
  /** A wrong client id or secret: every user of the integration would get it. */
  integrationErrors: ['incorrect_client_credentials'],
};

function isErrorBody(body: unknown): boolean {
  return !!body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string'
    && typeof (body as { access_token?: unknown }).access_token !== 'string';
}

/**
 * GitHub OAuth App (classic): access tokens do not expire and there is no refresh token.
 * PKCE (S256) is supported since July 2025. `userinfo` is the REST API's `GET /user`
 * (`id`, `login`), not OpenID Connect.
 */
export const github: ProviderEntry = {
  key: 'github',
  displayName: 'GitHub (OAuth App)',
  docsUrl: 'https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps',
  discovery: false,
  issuer: 'https://github.com',
  authorizationEndpoint: 'https://github.com/login/oauth/authorize',
  tokenEndpoint: 'https://github.com/login/oauth/access_token',
  userinfoEndpoint: 'https://api.github.com/user',
  apiBaseUrl: 'https://api.github.com',
  defaultScopes: ['read:user', 'user:email'],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_post',
  refresh: { supported: false, rotation: 'never', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: null,
  // GitHub limits each user token (5,000/h, 900 points/min per endpoint), nothing app-wide: a conservative 100/s, and fewer at once than its 100-concurrent-requests secondary limit.
  rateLimit: { requestsPerMinute: 6_000, concurrency: 80 },
  requiredSettings: [],
  quirks: githubTokenQuirks,
};
