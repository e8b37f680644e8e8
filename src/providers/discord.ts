import type { ProviderEntry } from './types.ts';

/**
 * Discord OAuth2: 7-day access tokens, a full token response (new refresh token) on every
 * refresh, RFC 7009 revocation (revoking any token revokes the whole authorization), S256 PKCE
 * and RFC 9207 `iss` on the callback (per https://discord.com/.well-known/oauth-authorization-server).
 */
export const discord: ProviderEntry = {
  key: 'discord',
  displayName: 'Discord',
  docsUrl: 'https://discord.com/developers/docs/topics/oauth2',
  discovery: false,
  issuer: 'https://discord.com',
  authorizationEndpoint: 'https://discord.com/oauth2/authorize',
  tokenEndpoint: 'https://discord.com/api/oauth2/token',
  revocationEndpoint: 'https://discord.com/api/oauth2/token/revoke',
  userinfoEndpoint: 'https://discord.com/api/users/@me',
  apiBaseUrl: 'https://discord.com/api',
  defaultScopes: ['identify', 'email'],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_basic',
  refresh: { supported: true, rotation: 'always', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: 604_800,
  // Discord's global limit is 50 requests/s per token, counted per second: 45/s paced evenly keeps every second under it even were all calls one token's.
  rateLimit: { requestsPerMinute: 2_700, requestsPerSecond: 45, concurrency: 50 },
  requiredSettings: [],
  quirks: {},
};
