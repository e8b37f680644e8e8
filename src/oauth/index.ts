/** OAuth protocol on oauth4webapi: the only import surface of src/oauth/. */
export type { IntegrationForClient, ProviderClient, ProviderEndpoints, ResolveOptions, TokenSet } from './types.ts';
export { resolveProviderClient } from './resolve-client.ts';
export { clearDiscoveryCache, DISCOVERY_TTL_MS, isDiscoveryCached } from './discovery.ts';
export { createPkce } from './pkce.ts';
export { buildAuthorizationUrl } from './authorization-url.ts';
export { exchangeAuthorizationCode } from './exchange-code.ts';
export { refreshAccessToken } from './refresh-token.ts';
export { salvagedRefreshToken } from './salvaged-refresh-token.ts';
export { requestClientCredentials } from './client-credentials.ts';
export { revokeToken } from './revoke-token.ts';
export { fetchAccountIdentity, type AccountIdentity } from './account-identity.ts';
export { OAuthProviderError, type ProviderEndpointKind } from './provider-error.ts';
export {
  classifyFailure, INTEGRATION_OAUTH_ERRORS, PERMANENT_OAUTH_ERRORS, TRANSIENT_OAUTH_ERRORS, type Classification,
} from './classify-failure.ts';
export { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.ts';
export { MAX_PROVIDER_RESPONSE_BYTES, MAX_TOKEN_BYTES, MIN_TOKEN_LIFETIME_SECONDS } from './provider-limits.ts';
export { DEFAULT_TIMEOUT_MS } from './http-transport.ts';
