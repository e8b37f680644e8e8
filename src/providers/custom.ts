import type { ProviderEntry } from './types.ts';

/**
 * Any OAuth 2.0 (RFC 6749) authorization server with explicit endpoints. Without `expires_in`
 * tokens are treated as non-expiring (most providers that omit it document exactly that); set
 * `defaultAccessTokenLifetimeSeconds` when the provider says otherwise. Set `issuer` too if the
 * provider returns ID tokens, so they can be validated.
 */
export const custom: ProviderEntry = {
  key: 'custom',
  displayName: 'Custom OAuth 2.0',
  docsUrl: 'https://www.rfc-editor.org/rfc/rfc6749',
  discovery: false,
  defaultScopes: [],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_basic',
  refresh: { supported: true, rotation: 'optional', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: null,
  // Any OAuth server, so no documented limit to follow: a conservative 50/s that still carries proxy traffic.
  rateLimit: { requestsPerMinute: 3_000, concurrency: 50 },
  requiredSettings: ['authorizationEndpoint', 'tokenEndpoint'],
  quirks: {},
};
