import type { ProviderEntry } from './types.ts';

/**
 * Tokenkeeper's built-in sandbox authorization server (src/sandbox/, oidc-provider): discovery
 * from `settings.issuer`, which is the running sandbox's URL (plain http on a loopback address is
 * allowed). Short-lived access tokens, refresh-token rotation with reuse detection (RFC 9700
 * §4.14.2: presenting a rotated refresh token revokes the grant). oidc-provider only issues a
 * refresh token for `offline_access` when consent was prompted (OpenID Connect Core §11).
 */
export const sandbox: ProviderEntry = {
  key: 'sandbox',
  displayName: 'Tokenkeeper sandbox',
  docsUrl: 'https://github.com/panva/node-oidc-provider/blob/main/docs/README.md',
  discovery: true,
  defaultScopes: ['openid', 'profile', 'email', 'offline_access'],
  scopeSeparator: ' ',
  authorizationParams: { prompt: 'consent' },
  pkce: true,
  clientAuth: 'client_secret_basic',
  refresh: { supported: true, rotation: 'always', keepOldWhenOmitted: true, maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: 120,
  rateLimit: { requestsPerMinute: 6000, concurrency: 50 },
  requiredSettings: ['issuer'],
  quirks: {},
};
