import * as oauth from 'oauth4webapi';
import { systemClock, type Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import {
  effectiveRateLimit, getProvider, isAllowedEndpointUrl, validateIntegrationSettings,
  type IntegrationSettings, type ProviderEntry,
} from '../providers/index.ts';
import { attachInternals } from './client-internals.ts';
import { discoverAuthorizationServer } from './discovery.ts';
import { DEFAULT_TIMEOUT_MS, type TransportSettings } from './http-transport.ts';
import type { IntegrationForClient, ProviderClient, ProviderEndpoints, ResolveOptions } from './types.ts';

/**
 * Resolves an integration into a ProviderClient: the catalog entry with the integration's
 * settings applied, endpoints from discovery (cached per issuer for an hour) or from the entry
 * and settings, and oauth4webapi's client objects. Discovery failures are
 * `provider_unavailable` with the issuer and what went wrong in `details`.
 */
export async function resolveProviderClient(integration: IntegrationForClient, options: ResolveOptions = {}): Promise<ProviderClient> {
  const entry = getProvider(integration.provider);
  if (!entry) {
    throw new TokenkeeperError('unknown_provider', `Unknown provider "${integration.provider}".`, { details: { provider: integration.provider } });
  }
  const validation = validateIntegrationSettings(entry.key, integration.settings ?? {});
  if (!validation.ok) {
    throw new TokenkeeperError('invalid_request', `The settings of integration "${integration.key}" are invalid: ${validation.problems.join('; ')}.`, {
      details: { integration: integration.key, problems: validation.problems },
    });
  }
  const settings = validation.settings;
  const provider = applySettings(entry, settings);
  const clock = options.clock ?? systemClock;
  const transport: TransportSettings = { fetch: options.fetch ?? globalThis.fetch, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS };

  const { endpoints, authorizationServer } = entry.discovery
    ? await discoveredEndpoints(entry, settings, transport, clock)
    : staticEndpoints(entry, settings);

  const oauthClient: oauth.Client = { client_id: integration.clientId, token_endpoint_auth_method: integration.clientSecret === null ? 'none' : provider.clientAuth };
  const clientAuth = integration.clientSecret === null
    ? oauth.None()
    : provider.clientAuth === 'client_secret_basic' ? oauth.ClientSecretBasic(integration.clientSecret) : oauth.ClientSecretPost(integration.clientSecret);

  const client: ProviderClient = {
    integrationKey: integration.key,
    provider,
    clientId: integration.clientId,
    clientSecret: null,
    redirectUri: integration.redirectUri,
    scopes: integration.scopes.length > 0 ? [...integration.scopes] : [...provider.defaultScopes],
    endpoints,
  };
  // Non-enumerable: JSON.stringify(client), spreading or logging it never carries the secret.
  Object.defineProperty(client, 'clientSecret', { value: integration.clientSecret, enumerable: false, writable: false });
  Object.freeze(client);
  attachInternals(client, { authorizationServer, client: oauthClient, clientAuth, fetch: transport.fetch, timeoutMs: transport.timeoutMs, clock, settings });
  return client;
}

/** The entry as this integration sees it: settings override separator, PKCE, auth method, lifetime, params, rate limit. */
function applySettings(entry: ProviderEntry, settings: IntegrationSettings): ProviderEntry {
  return Object.freeze({
    ...entry,
    authorizationParams: { ...entry.authorizationParams, ...settings.authorizationParams },
    scopeSeparator: settings.scopeSeparator ?? entry.scopeSeparator,
    clientAuth: settings.clientAuth ?? entry.clientAuth,
    pkce: settings.pkce ?? entry.pkce,
    defaultAccessTokenLifetimeSeconds: settings.defaultAccessTokenLifetimeSeconds !== undefined
      ? settings.defaultAccessTokenLifetimeSeconds
      : entry.defaultAccessTokenLifetimeSeconds,
    rateLimit: effectiveRateLimit(entry.rateLimit, settings),
  });
}

function staticEndpoints(entry: ProviderEntry, settings: IntegrationSettings): { endpoints: ProviderEndpoints; authorizationServer: oauth.AuthorizationServer } {
  const tenant = encodeURIComponent(settings.tenant ?? 'common');
  const fill = (value: string | undefined): string | null => (value === undefined ? null : value.replaceAll('{tenant}', tenant));
  const authorization = fill(settings.authorizationEndpoint ?? entry.authorizationEndpoint);
  const token = fill(settings.tokenEndpoint ?? entry.tokenEndpoint);
  if (!authorization || !token) {
    throw new TokenkeeperError('invalid_request', `The ${entry.key} provider needs authorizationEndpoint and tokenEndpoint settings.`, {
      details: { provider: entry.key },
    });
  }
  const endpoints: ProviderEndpoints = {
    issuer: fill(settings.issuer ?? entry.issuer),
    authorization,
    token,
    revocation: fill(settings.revocationEndpoint ?? entry.revocationEndpoint),
    userinfo: fill(settings.userinfoEndpoint ?? entry.userinfoEndpoint),
  };
  return {
    endpoints,
    authorizationServer: {
      // Without a known issuer there is nothing to compare ID tokens or `iss` against; the token
      // endpoint's origin only fills oauth4webapi's required field (see processTokenResponse).
      issuer: endpoints.issuer ?? new URL(token).origin,
      authorization_endpoint: authorization,
      token_endpoint: token,
      ...(endpoints.revocation ? { revocation_endpoint: endpoints.revocation } : {}),
      ...(endpoints.userinfo ? { userinfo_endpoint: endpoints.userinfo } : {}),
    },
  };
}

async function discoveredEndpoints(
  entry: ProviderEntry,
  settings: IntegrationSettings,
  transport: TransportSettings,
  clock: Clock,
): Promise<{ endpoints: ProviderEndpoints; authorizationServer: oauth.AuthorizationServer }> {
  const issuer = settings.issuer ?? entry.issuer;
  if (!issuer) throw new TokenkeeperError('invalid_request', `The ${entry.key} provider needs an issuer setting.`, { details: { provider: entry.key } });
  const metadata = await discoverAuthorizationServer(issuer, transport, clock);
  const pick = (override: string | undefined, discovered: unknown): string | null =>
    override ?? (typeof discovered === 'string' ? discovered : null);
  const authorization = pick(settings.authorizationEndpoint, metadata.authorization_endpoint);
  const token = pick(settings.tokenEndpoint, metadata.token_endpoint);
  if (!authorization || !token) {
    throw new TokenkeeperError('provider_unavailable', `The metadata of issuer ${issuer} has no authorization or token endpoint.`, {
      details: { issuer, problems: ['authorization_endpoint or token_endpoint missing'] },
    });
  }
  const endpoints: ProviderEndpoints = {
    issuer: metadata.issuer,
    authorization,
    token,
    revocation: pick(settings.revocationEndpoint, metadata.revocation_endpoint),
    userinfo: pick(settings.userinfoEndpoint, metadata.userinfo_endpoint),
  };
  // A metadata document must not move tokens to plain http off this machine.
  for (const [name, url] of Object.entries(endpoints)) {
    if (url !== null && !isAllowedEndpointUrl(url)) {
      throw new TokenkeeperError('provider_unavailable', `The metadata of issuer ${issuer} has a non-https ${name} endpoint.`, {
        details: { issuer, problems: [`${name} endpoint is not https`] },
      });
    }
  }
  return {
    endpoints,
    authorizationServer: {
      ...metadata,
      authorization_endpoint: authorization,
      token_endpoint: token,
      revocation_endpoint: endpoints.revocation ?? undefined,
      userinfo_endpoint: endpoints.userinfo ?? undefined,
    },
  };
}
