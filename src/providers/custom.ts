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
  rateLimit: { requestsPerMinute: 300, concurrency: 10 },
  requiredSettings: ['authorizationEndpoint', 'tokenEndpoint'],
  quirks: {},
};
