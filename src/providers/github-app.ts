import { githubTokenQuirks } from './github.ts';
import type { ProviderEntry } from './types.ts';

/**
 * GitHub App user access tokens with expiration enabled: 8 h access tokens (`expires_in` 28800),
 * 6-month refresh tokens (`refresh_token_expires_in`), strict rotation — once a refresh token is
 * used, it and the previous access token stop working, so two refreshers racing lose the
 * connection. Permissions come from the app, not from scopes. When expiration is disabled the
 * response has neither `expires_in` nor `refresh_token` and the token does not expire.
 */
export const githubApp: ProviderEntry = {
  key: 'github-app',
  displayName: 'GitHub (GitHub App)',
  docsUrl: 'https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens',
  discovery: false,
  issuer: 'https://github.com',
  authorizationEndpoint: 'https://github.com/login/oauth/authorize',
  tokenEndpoint: 'https://github.com/login/oauth/access_token',
  userinfoEndpoint: 'https://api.github.com/user',
  apiBaseUrl: 'https://api.github.com',
  defaultScopes: [],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_post',
  refresh: { supported: true, rotation: 'always', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: null,
  // GitHub limits each user token (5,000/h, 15,000 for Enterprise Cloud apps), nothing app-wide: a conservative 100/s, and fewer at once than its 100-concurrent-requests secondary limit.
  rateLimit: { requestsPerMinute: 6_000, concurrency: 80 },
  requiredSettings: [],
  quirks: githubTokenQuirks,
};
