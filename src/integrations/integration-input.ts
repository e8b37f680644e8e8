import { closestMatch } from '../closest-match.ts';
import { TokenkeeperError } from '../errors.ts';
import { isHttpUrl, parseScopeList } from '../input-values.ts';
import { getProvider, listProviders, validateIntegrationSettings, type IntegrationSettings } from '../providers/index.ts';

/** What a client may send to create or update an integration (wire spelling, snake_case). */
export interface IntegrationInput {
  key?: unknown;
  provider?: unknown;
  display_name?: unknown;
  client_id?: unknown;
  client_secret?: unknown;
  scopes?: unknown;
  redirect_uri?: unknown;
  settings?: unknown;
  refresh_buffer_seconds?: unknown;
  system_grant?: unknown;
  system_scopes?: unknown;
  enabled?: unknown;
  actions_enabled?: unknown;
}

export interface ValidIntegrationInput {
  key?: string;
  provider?: string;
  displayName?: string | null;
  clientId?: string;
  clientSecret?: string | null;
  scopes?: string[];
  redirectUri?: string | null;
  settings?: IntegrationSettings;
  refreshBufferSeconds?: number;
  systemGrant?: 'client_credentials' | null;
  systemScopes?: string[] | null;
  enabled?: boolean;
  actionsEnabled?: boolean;
}

const KEY_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const KNOWN_FIELDS = new Set([
  'key', 'provider', 'display_name', 'client_id', 'client_secret', 'scopes', 'redirect_uri', 'settings',
  'refresh_buffer_seconds', 'system_grant', 'system_scopes', 'enabled', 'actions_enabled',
]);

function parseScopes(value: unknown, field: string, problems: string[]): string[] | undefined {
  const scopes = parseScopeList(value);
  if (scopes === null) problems.push(`${field} must be an array of scope strings or a space-separated string`);
  return scopes ?? undefined;
}


/** `unknown field "scope" (did you mean "scopes"?)`: a typo named with what it was meant to be. */
function unknownName(what: string, name: string, known: Iterable<string>): string {
  const suggestion = closestMatch(name, [...known]);
  return `unknown ${what} ${JSON.stringify(name)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}`;
}

/**
 * Validates a create (`partial: false`) or update (`partial: true`) body. Every problem is
 * collected so the client can fix them all at once; the error lists them in `details.problems`.
 * An unknown provider is one of them, but gives the error its code, `unknown_provider`, so a
 * client can tell it apart whatever else is wrong.
 */
export function validateIntegrationInput(body: unknown, options: { partial: boolean; currentProvider?: string }): ValidIntegrationInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new TokenkeeperError('invalid_request', 'The body must be a JSON object.');
  }
  const input = body as IntegrationInput & Record<string, unknown>;
  const problems: string[] = [];
  const out: ValidIntegrationInput = {};

  for (const field of Object.keys(input)) if (!KNOWN_FIELDS.has(field)) problems.push(unknownName('field', field, KNOWN_FIELDS));
  let unknownProvider = false;

  if (input.key !== undefined || !options.partial) {
    if (options.partial) problems.push('key cannot be changed');
    else if (typeof input.key !== 'string' || !KEY_PATTERN.test(input.key)) {
      problems.push('key is required: lowercase letters, digits, "-" and "_", at most 63 characters');
    } else out.key = input.key;
  }
  if (input.provider !== undefined || !options.partial) {
    if (options.partial) problems.push('provider cannot be changed; create a new integration');
    else if (input.provider === undefined || input.provider === null) {
      problems.push(`provider is required (one of: ${listProviders().map((p) => p.key).join(', ')})`);
    } else if (typeof input.provider !== 'string' || !getProvider(input.provider)) {
      unknownProvider = true;
      const known = listProviders().map((p) => p.key);
      const suggestion = typeof input.provider === 'string' ? closestMatch(input.provider, known) : null;
      problems.push(
        `unknown provider ${JSON.stringify(input.provider)} (${suggestion ? `did you mean ${JSON.stringify(suggestion)}? ` : ''}known: ${known.join(', ')})`,
      );
    } else out.provider = input.provider;
  }
  if (input.display_name !== undefined) {
    if (input.display_name !== null && (typeof input.display_name !== 'string' || input.display_name.length > 200)) {
      problems.push('display_name must be a string of at most 200 characters');
    } else out.displayName = input.display_name as string | null;
  }
  if (input.client_id !== undefined || !options.partial) {
    if (typeof input.client_id !== 'string' || input.client_id.length === 0 || input.client_id.length > 500) {
      problems.push('client_id is required (a non-empty string)');
    } else out.clientId = input.client_id;
  }
  if (input.client_secret !== undefined) {
    if (input.client_secret !== null && (typeof input.client_secret !== 'string' || input.client_secret.length === 0 || input.client_secret.length > 2000)) {
      problems.push('client_secret must be a non-empty string or null');
    } else out.clientSecret = input.client_secret as string | null;
  }
  if (input.scopes !== undefined) out.scopes = parseScopes(input.scopes, 'scopes', problems);
  if (input.redirect_uri !== undefined) {
    if (input.redirect_uri !== null && (typeof input.redirect_uri !== 'string' || !isHttpUrl(input.redirect_uri))) {
      problems.push('redirect_uri must be an absolute http(s) URL or null');
    } else out.redirectUri = input.redirect_uri as string | null;
  }
  const provider = out.provider ?? options.currentProvider;
  // Settings are judged against the provider's catalog entry; with no known provider there is
  // nothing to judge them against, and "unknown provider" is already among the problems.
  if (!unknownProvider && (input.settings !== undefined || (!options.partial && provider))) {
    const result = validateIntegrationSettings(provider ?? '', input.settings ?? {});
    if (result.ok) out.settings = result.settings;
    else problems.push(...result.problems.map((problem) => `settings: ${problem}`));
  }
  if (input.refresh_buffer_seconds !== undefined) {
    const value = input.refresh_buffer_seconds;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 86_400) {
      problems.push('refresh_buffer_seconds must be an integer from 0 to 86400');
    } else out.refreshBufferSeconds = value;
  }
  if (input.system_grant !== undefined) {
    if (input.system_grant !== null && input.system_grant !== 'client_credentials') {
      problems.push('system_grant must be "client_credentials" or null');
    } else out.systemGrant = input.system_grant;
  }
  if (input.system_scopes !== undefined) {
    out.systemScopes = input.system_scopes === null ? null : parseScopes(input.system_scopes, 'system_scopes', problems);
  }
  if (input.enabled !== undefined) {
    if (typeof input.enabled !== 'boolean') problems.push('enabled must be true or false');
    else out.enabled = input.enabled;
  }
  if (input.actions_enabled !== undefined) {
    if (typeof input.actions_enabled !== 'boolean') problems.push('actions_enabled must be true or false');
    else out.actionsEnabled = input.actions_enabled;
  }
  if (problems.length > 0) {
    const message = `Invalid integration: ${problems.join('; ')}.`;
    if (unknownProvider) throw new TokenkeeperError('unknown_provider', message, { details: { provider: input.provider, problems } });
    throw new TokenkeeperError('invalid_request', message, { details: { problems } });
  }
  return out;
}
