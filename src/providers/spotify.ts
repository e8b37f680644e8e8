import type { ProviderEntry } from './types.ts';

/**
 * Spotify Web API authorization code flow: 1 h access tokens; a refresh "might" return a new
 * refresh token, otherwise keep the old one. Refresh tokens of newer apps expire 6 months after
 * the original authorization (refreshing does not extend that), answered with `invalid_grant`.
 * No revocation endpoint.
 */
export const spotify: ProviderEntry = {
  key: 'spotify',
  displayName: 'Spotify',
  docsUrl: 'https://developer.spotify.com/documentation/web-api/tutorials/refreshing-tokens',
  discovery: false,
  authorizationEndpoint: 'https://accounts.spotify.com/authorize',
  tokenEndpoint: 'https://accounts.spotify.com/api/token',
  userinfoEndpoint: 'https://api.spotify.com/v1/me',
  apiBaseUrl: 'https://api.spotify.com',
  defaultScopes: ['user-read-email', 'user-read-private'],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_basic',
  refresh: { supported: true, rotation: 'optional', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: 3600,
  // Spotify limits each app over a rolling 30 s, unpublished and far lower in development mode than in extended quota mode: a conservative 20/s.
  rateLimit: { requestsPerMinute: 1_200, concurrency: 20 },
  requiredSettings: [],
  quirks: {},
};
