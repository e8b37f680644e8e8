import { TokenkeeperError } from '../errors.ts';
import type { IntegrationView } from '../integrations/index.ts';
import { apiBaseUrlProblem, type ProviderEntry } from '../providers/index.ts';
import { parseApiBase, type ApiBase } from './target-url.ts';

/** `{settings.issuer}`, `{metadata.instance_url}` in a catalog entry's `apiBaseUrl`. */
const PLACEHOLDER = /\{(settings|metadata)\.([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Whether the base URL of this provider depends on the connection (and so must be read with it). */
export function needsConnectionMetadata(provider: Pick<ProviderEntry, 'apiBaseUrl'>, settings: Record<string, unknown>): boolean {
  return settings.apiBaseUrl === undefined && (provider.apiBaseUrl?.includes('{metadata.') ?? false);
}

/**
 * The API base URL a connection's proxied calls go to: the integration's `settings.apiBaseUrl`
 * when set (required for `custom` and `oidc`, an override for the others), else the catalog's,
 * its placeholders filled from the integration's settings and the connection's metadata
 * (Salesforce's `instance_url`). Checked like a configured one — https, or http on a loopback
 * host; no query, fragment or credentials — since a placeholder's value came from a token
 * response or an import, not from an operator. `proxy_not_configured` when there is none.
 */
export function apiBaseUrlOf(
  provider: Pick<ProviderEntry, 'key' | 'apiBaseUrl'>,
  settings: Record<string, unknown>,
  metadata: Record<string, unknown>,
): string {
  let base: string | null;
  if (typeof settings.apiBaseUrl === 'string') base = settings.apiBaseUrl;
  else if (provider.apiBaseUrl === undefined) base = null;
  else {
    const missing: string[] = [];
    base = provider.apiBaseUrl.replace(PLACEHOLDER, (_match, source: string, name: string) => {
      const value = (source === 'settings' ? settings : metadata)[name];
      if (typeof value !== 'string' || value === '') {
        missing.push(`${source}.${name}`);
        return '';
      }
      return value.replace(/\/+$/, '');
    });
    if (missing.length > 0) {
      throw new TokenkeeperError('proxy_not_configured', `The API base URL of ${provider.key} needs ${missing.join(' and ')}, which this connection does not have; set settings.apiBaseUrl on the integration.`, {
        details: { missing },
      });
    }
  }
  if (base === null) {
    throw new TokenkeeperError('proxy_not_configured', `The ${provider.key} provider has no known API base URL; set settings.apiBaseUrl on the integration.`);
  }
  const problem = apiBaseUrlProblem(base);
  if (problem) throw new TokenkeeperError('proxy_not_configured', `The API base URL ${problem}.`, { details: { reason: `apiBaseUrl ${problem}` } });
  return base;
}

/**
 * The parsed API base of each integration, kept with the `updated_at` of the row it was read
 * from. Read for every proxied call, it is parsed and checked once per version of the
 * integration instead: the integration cache (integrations/coherent-cache.ts) hands out a new
 * record whenever the row changed, here or in another process, and a kept entry whose
 * `updated_at` differs is read again anyway. Held weakly by the record, so a replaced record's
 * entry goes with it. A base built from the connection's metadata (Salesforce's `instance_url`)
 * differs per connection and is read on every call; a base that cannot be used
 * (`proxy_not_configured`) is not kept, so each call is refused with the same error as before.
 */
export class ApiBases {
  private readonly bases = new WeakMap<object, { updatedAt: number; base: ApiBase | null }>();

  of(integration: IntegrationView, metadata: Record<string, unknown>): ApiBase {
    const { record, provider } = integration;
    let kept = this.bases.get(record);
    if (kept === undefined || kept.updatedAt !== record.updatedAt) {
      const perConnection = needsConnectionMetadata(provider, record.settings);
      kept = { updatedAt: record.updatedAt, base: perConnection ? null : parseApiBase(apiBaseUrlOf(provider, record.settings, {})) };
      this.bases.set(record, kept);
    }
    return kept.base ?? parseApiBase(apiBaseUrlOf(provider, record.settings, metadata));
  }
}
