import type { ProviderEntry } from './types.ts';

/**
 * Microsoft identity platform (v2.0 endpoints). The `tenant` setting picks the directory
 * (`common` by default, or `organizations`, `consumers`, a tenant id or domain).
 *
 * - A refresh token needs the `offline_access` scope; every refresh returns a new one (the old
 *   one is not revoked), and they expire after 90 days without use.
 * - Errors are `invalid_grant` with AADSTS codes in `error_description`.
 * - There is no RFC 7009 revocation endpoint.
 * - Multi-tenant ID tokens are issued by `https://login.microsoftonline.com/{tid}/v2.0` for the
 *   user's own tenant, so the expected issuer comes from the token's `tid` claim.
 */
export const microsoft: ProviderEntry = {
  key: 'microsoft',
  displayName: 'Microsoft',
  docsUrl: 'https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow',
  discovery: false,
  authorizationEndpoint: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize',
  tokenEndpoint: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token',
  userinfoEndpoint: 'https://graph.microsoft.com/oidc/userinfo',
  apiBaseUrl: 'https://graph.microsoft.com',
  defaultScopes: ['openid', 'profile', 'email', 'offline_access'],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_post',
  refresh: { supported: true, rotation: 'always', maxIdleDays: 90 },
  defaultAccessTokenLifetimeSeconds: 3600,
  // Graph: 130,000 requests per 10 s per app across all tenants; 10,000/s paced evenly is 77 % of it (per-tenant and per-mailbox limits are Graph's to enforce).
  rateLimit: { requestsPerMinute: 600_000, requestsPerSecond: 10_000, concurrency: 1_000 },
  requiredSettings: [],
  quirks: {
    idTokenIssuer: (claims) =>
      typeof claims.tid === 'string' && /^[0-9a-f-]{36}$/i.test(claims.tid)
        ? `https://login.microsoftonline.com/${claims.tid}/v2.0`
        : null,
  },
};
