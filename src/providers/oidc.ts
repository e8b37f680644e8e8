import type { ProviderEntry } from './types.ts';

/**
 * Any OpenID Connect provider: endpoints come from `<issuer>/.well-known/openid-configuration`
 * (OpenID Connect Discovery 1.0 §4), falling back to RFC 8414's
 * `/.well-known/oauth-authorization-server`. `offline_access` (OpenID Connect Core §11) asks for
 * a refresh token; drop it from the integration's scopes for providers that reject it.
 */
export const oidc: ProviderEntry = {
  key: 'oidc',
  displayName: 'OpenID Connect (discovery)',
  docsUrl: 'https://openid.net/specs/openid-connect-discovery-1_0.html',
  discovery: true,
  defaultScopes: ['openid', 'profile', 'email', 'offline_access'],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_basic',
  refresh: { supported: true, rotation: 'optional', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: 3600,
  // Any provider, so no documented limit to follow: a conservative 50/s that still carries proxy traffic.
  rateLimit: { requestsPerMinute: 3_000, concurrency: 50 },
  requiredSettings: ['issuer'],
  quirks: {},
};
