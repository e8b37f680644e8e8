import type { ProviderEntry } from './types.ts';

/**
 * Tokenkeeper's built-in sandbox authorization server (src/sandbox/, on oidc-provider):
 * discovery from `settings.issuer`, which is the running sandbox's URL (plain http on a loopback
 * address is allowed). Short-lived access tokens (120 s by default), a refresh token for every
 * client allowed the refresh grant (no `prompt=consent` needed), rotation on every refresh with
 * reuse detection (RFC 9700 §4.14.2: presenting a rotated refresh token revokes the grant), RFC
 * 7009 revocation, userinfo, client credentials with the `api` scope of its demo API, which the
 * proxy reaches at `<issuer>/api`.
 */
export const sandbox: ProviderEntry = {
  key: 'sandbox',
  displayName: 'Tokenkeeper sandbox',
  docsUrl: 'https://github.com/panva/node-oidc-provider/blob/main/docs/README.md',
  discovery: true,
  // The demo API (`/api/me`, `/api/items`, `/api/notes`); the token endpoint stays out of the proxy's reach.
  apiBaseUrl: '{settings.issuer}/api',
  defaultScopes: ['openid', 'email', 'profile', 'offline_access', 'api'],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_basic',
  refresh: { supported: true, rotation: 'always', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: 120,
  // Tokenkeeper's own local provider: high enough for the tests and the bench (which set `rateLimit` where the limit is what they measure).
  rateLimit: { requestsPerMinute: 6_000, concurrency: 50 },
  requiredSettings: ['issuer'],
  quirks: {},
};
