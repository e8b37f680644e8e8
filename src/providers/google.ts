import type { ProviderEntry } from './types.ts';

/**
 * Google identity platform (OAuth 2.0 for web server applications).
 *
 * - A refresh token only comes with `access_type=offline`, and only on first consent unless
 *   `prompt=consent` asks again; refresh responses normally omit `refresh_token` (keep the old).
 * - Refresh tokens die after 6 months unused, so the sweep exercises idle ones.
 * - Under session control policies a refresh fails with `invalid_grant` + `error_subtype: invalid_rapt`.
 * - ID tokens carry `iss` as `https://accounts.google.com` or `accounts.google.com`.
 */
export const google: ProviderEntry = {
  key: 'google',
  displayName: 'Google',
  docsUrl: 'https://developers.google.com/identity/protocols/oauth2/web-server',
  discovery: false,
  issuer: 'https://accounts.google.com',
  authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
  tokenEndpoint: 'https://oauth2.googleapis.com/token',
  revocationEndpoint: 'https://oauth2.googleapis.com/revoke',
  userinfoEndpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
  apiBaseUrl: 'https://www.googleapis.com',
  defaultScopes: ['openid', 'email', 'profile'],
  scopeSeparator: ' ',
  authorizationParams: { access_type: 'offline', prompt: 'consent' },
  pkce: true,
  clientAuth: 'client_secret_post',
  refresh: { supported: true, rotation: 'never', maxIdleDays: 180 },
  defaultAccessTokenLifetimeSeconds: 3600,
  // Calendar API: 10,000 requests/min per project, the lowest per-project quota of Gmail, Calendar and Drive; 8,000 keeps even a burst minute (7/6) under it.
  rateLimit: { requestsPerMinute: 8_000, concurrency: 150 },
  requiredSettings: [],
  quirks: {
    permanentErrors: ['invalid_rapt'],
    idTokenIssuer: (claims) =>
      claims.iss === 'https://accounts.google.com' || claims.iss === 'accounts.google.com' ? claims.iss : null,
  },
};
