import type { ProviderEntry } from './types.ts';

/**
 * LinkedIn (Sign In with LinkedIn using OpenID Connect, plus programmatic refresh for approved
 * partners): 60-day access tokens; the refresh token lasts 365 days from the original
 * authorization and refreshing does not extend it (the same refresh token comes back with a
 * shrinking `refresh_token_expires_in`). Client credentials go in the form body.
 */
export const linkedin: ProviderEntry = {
  key: 'linkedin',
  displayName: 'LinkedIn',
  docsUrl: 'https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens',
  discovery: false,
  issuer: 'https://www.linkedin.com/oauth',
  authorizationEndpoint: 'https://www.linkedin.com/oauth/v2/authorization',
  tokenEndpoint: 'https://www.linkedin.com/oauth/v2/accessToken',
  revocationEndpoint: 'https://www.linkedin.com/oauth/v2/revoke',
  userinfoEndpoint: 'https://api.linkedin.com/v2/userinfo',
  apiBaseUrl: 'https://api.linkedin.com',
  defaultScopes: ['openid', 'profile', 'email'],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: false,
  clientAuth: 'client_secret_post',
  refresh: { supported: true, rotation: 'never', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: 5_184_000,
  // LinkedIn limits each app per endpoint per UTC day, figures unpublished (Developer Portal, Analytics): a conservative 10/s.
  rateLimit: { requestsPerMinute: 600, concurrency: 20 },
  requiredSettings: [],
  quirks: {},
};
