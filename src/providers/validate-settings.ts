import { closestMatch } from '../closest-match.ts';
import { getProvider } from './catalog.ts';
import { MAX_LIFETIME_SECONDS } from './lifetime-limits.ts';
import { isAllowedEndpointUrl } from './loopback.ts';
import { validateRateLimitSetting } from './rate-limit-setting.ts';
import type { IntegrationSettings } from './types.ts';

const ENDPOINT_FIELDS = ['issuer', 'authorizationEndpoint', 'tokenEndpoint', 'revocationEndpoint', 'userinfoEndpoint'] as const;
const KNOWN_FIELDS = new Set<string>([
  ...ENDPOINT_FIELDS, 'apiBaseUrl', 'tenant', 'authorizationParams', 'scopeSeparator', 'clientAuth', 'pkce', 'defaultAccessTokenLifetimeSeconds', 'refreshTokenMaxIdleDays', 'rateLimit',
]);

/**
 * Authorization request parameters Tokenkeeper sets itself (RFC 6749 §4.1.1, RFC 7636 §4.3,
 * OpenID Connect Core §3.1.2.1); letting settings override them would break the flow or its
 * protections.
 */
const RESERVED_AUTHORIZATION_PARAMS = new Set([
  'response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce',
]);

/** Microsoft tenants: a GUID, a verified domain, or one of the three aliases. */
const TENANT_PATTERN = /^(common|organizations|consumers|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i;

export type SettingsValidation = { ok: true; settings: IntegrationSettings } | { ok: false; problems: string[] };

/**
 * Validates an integration's `settings` object for API input: unknown keys (with the known one a
 * typo was probably meant to be), wrong types, missing required settings and bad endpoint URLs
 * are all reported at once. Endpoint overrides are
 * accepted for every provider (tests point catalog providers at local servers) but are only
 * meant for `custom` and `oidc` in everyday use. Endpoints must be https, except http on a
 * loopback host.
 */
export function validateIntegrationSettings(providerKey: string, settings: unknown): SettingsValidation {
  const provider = getProvider(providerKey);
  if (!provider) return { ok: false, problems: [`unknown provider ${JSON.stringify(providerKey)}`] };
  if (settings === undefined || settings === null) settings = {};
  if (typeof settings !== 'object' || Array.isArray(settings)) {
    return { ok: false, problems: ['settings must be a JSON object'] };
  }
  const input = settings as Record<string, unknown>;
  const problems: string[] = [];
  const out: IntegrationSettings = {};

  for (const field of Object.keys(input)) {
    if (KNOWN_FIELDS.has(field)) continue;
    const suggestion = closestMatch(field, [...KNOWN_FIELDS]);
    problems.push(`unknown setting ${JSON.stringify(field)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}`);
  }

  for (const field of ENDPOINT_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !isAllowedEndpointUrl(value)) {
      problems.push(`${field} must be an absolute https URL (http only for localhost/127.0.0.1/::1)`);
      continue;
    }
    const url = new URL(value);
    if (url.hash || (field === 'issuer' && url.search)) {
      problems.push(`${field} must not have ${field === 'issuer' ? 'a query or ' : ''}a fragment`);
      continue;
    }
    out[field] = value;
  }

  if (input.apiBaseUrl !== undefined) {
    const problem = apiBaseUrlProblem(input.apiBaseUrl);
    if (problem) problems.push(`apiBaseUrl ${problem}`);
    else out.apiBaseUrl = input.apiBaseUrl as string;
  }

  if (input.tenant !== undefined) {
    if (provider.key !== 'microsoft') problems.push('tenant only applies to the microsoft provider');
    else if (typeof input.tenant !== 'string' || !TENANT_PATTERN.test(input.tenant)) {
      problems.push('tenant must be "common", "organizations", "consumers", a tenant id (GUID) or a domain');
    } else out.tenant = input.tenant;
  }

  if (input.authorizationParams !== undefined) {
    const params = input.authorizationParams;
    if (!params || typeof params !== 'object' || Array.isArray(params)) {
      problems.push('authorizationParams must be an object of string values');
    } else {
      const clean: Record<string, string> = {};
      for (const [name, value] of Object.entries(params)) {
        if (typeof value !== 'string') problems.push(`authorizationParams.${name} must be a string`);
        else if (RESERVED_AUTHORIZATION_PARAMS.has(name)) problems.push(`authorizationParams.${name} is set by Tokenkeeper and cannot be overridden`);
        else clean[name] = value;
      }
      out.authorizationParams = clean;
    }
  }

  if (input.scopeSeparator !== undefined) {
    if (input.scopeSeparator !== ' ' && input.scopeSeparator !== ',') problems.push('scopeSeparator must be " " or ","');
    else out.scopeSeparator = input.scopeSeparator;
  }
  if (input.clientAuth !== undefined) {
    if (input.clientAuth !== 'client_secret_basic' && input.clientAuth !== 'client_secret_post') {
      problems.push('clientAuth must be "client_secret_basic" or "client_secret_post"');
    } else out.clientAuth = input.clientAuth;
  }
  if (input.pkce !== undefined) {
    if (typeof input.pkce !== 'boolean') problems.push('pkce must be true or false');
    else out.pkce = input.pkce;
  }
  if (input.defaultAccessTokenLifetimeSeconds !== undefined) {
    const value = input.defaultAccessTokenLifetimeSeconds;
    if (value !== null && (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_LIFETIME_SECONDS)) {
      problems.push(`defaultAccessTokenLifetimeSeconds must be a positive integer (at most ${MAX_LIFETIME_SECONDS}) or null`);
    } else out.defaultAccessTokenLifetimeSeconds = value;
  }

  if (input.refreshTokenMaxIdleDays !== undefined) {
    const value = input.refreshTokenMaxIdleDays;
    if (value !== null && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 3650)) {
      problems.push('refreshTokenMaxIdleDays must be a positive number of days (at most 3650) or null');
    } else out.refreshTokenMaxIdleDays = value;
  }

  if (input.rateLimit !== undefined) {
    const checked = validateRateLimitSetting(input.rateLimit);
    problems.push(...checked.problems);
    out.rateLimit = checked.rateLimit;
  }

  for (const required of provider.requiredSettings) {
    if (input[required] === undefined || input[required] === null || input[required] === '') {
      problems.push(`${required} is required for the ${provider.key} provider`);
    }
  }

  return problems.length > 0 ? { ok: false, problems } : { ok: true, settings: out };
}

/**
 * What is wrong with an API base URL for the proxy, or null. The proxy appends only a path to it
 * (src/proxy/target-url.ts), so a query or fragment would be glued to the caller's path, and
 * credentials in it would be sent with every call: all refused, like plain http off loopback.
 */
export function apiBaseUrlProblem(value: unknown): string | null {
  if (typeof value !== 'string' || !isAllowedEndpointUrl(value)) return 'must be an absolute https URL (http only for localhost/127.0.0.1/::1)';
  const url = new URL(value);
  if (url.search || url.hash || value.includes('?') || value.includes('#')) return 'must not have a query or a fragment';
  if (url.username || url.password) return 'must not carry credentials';
  return null;
}
