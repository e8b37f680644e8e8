import type { ProviderEntry } from './types.ts';

/**
 * Salesforce (web server flow on login.salesforce.com; a My Domain or sandbox org overrides the
 * endpoints and issuer in settings). Token responses carry no `expires_in`: the access token lives
 * as long as the org's session timeout (2 h by default, configurable from 15 min to 24 h — set
 * `defaultAccessTokenLifetimeSeconds` to match a shorter one). `instance_url` comes back in the
 * token response and must be kept: API calls go there. Refresh-token rotation is optional per
 * connected app (when on, the old one is invalidated at once). The `id` field is the identity URL
 * `https://login.salesforce.com/id/<org id>/<user id>`.
 */
export const salesforce: ProviderEntry = {
  key: 'salesforce',
  displayName: 'Salesforce',
  docsUrl: 'https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm&type=5',
  discovery: false,
  issuer: 'https://login.salesforce.com',
  authorizationEndpoint: 'https://login.salesforce.com/services/oauth2/authorize',
  tokenEndpoint: 'https://login.salesforce.com/services/oauth2/token',
  revocationEndpoint: 'https://login.salesforce.com/services/oauth2/revoke',
  userinfoEndpoint: 'https://login.salesforce.com/services/oauth2/userinfo',
  // API calls go to the org's own instance (`https://<my domain>.my.salesforce.com`), never to login.salesforce.com.
  apiBaseUrl: '{metadata.instance_url}',
  defaultScopes: ['api', 'refresh_token', 'openid'],
  scopeSeparator: ' ',
  authorizationParams: {},
  pkce: true,
  clientAuth: 'client_secret_post',
  refresh: { supported: true, rotation: 'optional', maxIdleDays: null },
  defaultAccessTokenLifetimeSeconds: 7200,
  // Salesforce limits each org (a 24-hour allocation from 15,000 calls; 25 concurrent calls over 20 s), nothing app-wide: a conservative 100/s across orgs.
  rateLimit: { requestsPerMinute: 6_000, concurrency: 100 },
  requiredSettings: [],
  quirks: {
    accountFromTokenResponse(body) {
      return typeof body.id === 'string' && body.id.length > 0 ? { accountId: body.id, label: null } : null;
    },
    metadataFields: ['instance_url', 'id'],
  },
};
