import * as oauth from 'oauth4webapi';
import type { Clock } from '../clock.ts';
import { TokenkeeperError } from '../errors.ts';
import { createRequestTransport, type TransportSettings } from './http-transport.ts';

/** Metadata documents change rarely; an hour keeps restarts of a busy process from re-fetching. */
export const DISCOVERY_TTL_MS = 60 * 60 * 1000;

interface CacheEntry {
  expiresAt: number;
  promise: Promise<oauth.AuthorizationServer>;
}

/**
 * Discovery results per issuer. The promise is cached, so concurrent resolutions of the same
 * issuer share one request; a failed discovery is dropped at once so the next call retries.
 */
const cache = new Map<string, CacheEntry>();

export function clearDiscoveryCache(): void {
  cache.clear();
}

/**
 * Whether resolving this issuer now would send no request: its metadata is cached, or being
 * fetched by another caller whose request it would share. The outbound guard is only for calls
 * that go out; a cached discovery spending a rate-limit token (or acting as a circuit's
 * half-open probe without reaching the provider) would be wrong.
 */
export function isDiscoveryCached(issuer: string, clock: Clock): boolean {
  const cached = cache.get(issuer);
  return cached !== undefined && cached.expiresAt > clock.now();
}

export function discoverAuthorizationServer(issuer: string, transport: TransportSettings, clock: Clock): Promise<oauth.AuthorizationServer> {
  const now = clock.now();
  const cached = cache.get(issuer);
  if (cached && cached.expiresAt > now) return cached.promise;
  const promise = fetchMetadata(issuer, transport, clock);
  cache.set(issuer, { expiresAt: now + DISCOVERY_TTL_MS, promise });
  promise.catch(() => {
    if (cache.get(issuer)?.promise === promise) cache.delete(issuer);
  });
  return promise;
}

/**
 * OpenID Connect Discovery 1.0 §4 first (`/.well-known/openid-configuration` appended to the
 * issuer), then RFC 8414 §3 (`/.well-known/oauth-authorization-server` inserted before the path).
 * oauth4webapi checks that the document's `issuer` equals the one asked for (RFC 8414 §3.3),
 * which stops a metadata document from impersonating another issuer.
 */
async function fetchMetadata(issuer: string, settings: TransportSettings, clock: Clock): Promise<oauth.AuthorizationServer> {
  const issuerUrl = new URL(issuer);
  const problems: string[] = [];
  for (const algorithm of ['oidc', 'oauth2'] as const) {
    const transport = createRequestTransport(settings, 'discovery');
    try {
      const response = await oauth.discoveryRequest(issuerUrl, { ...transport.options(issuer), algorithm });
      if (response.status === 404 && algorithm === 'oidc') {
        await response.body?.cancel();
        problems.push(`${algorithm}: HTTP 404`);
        continue;
      }
      // Read under the transport's size cap first: oauth4webapi would report a body cut off at
      // the cap only as "failed to parse", hiding why.
      const text = await transport.readText(response);
      return await oauth.processDiscoveryResponse(issuerUrl, new Response(text, { status: response.status, headers: response.headers }));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      problems.push(`${algorithm}: ${message}`);
      const retryAfterMs = error instanceof TokenkeeperError ? error.retryAfterMs : undefined;
      if (algorithm === 'oauth2' || error instanceof TokenkeeperError) {
        throw new TokenkeeperError('provider_unavailable', `Discovery failed for issuer ${issuer}: ${problems.join('; ')}`, {
          cause: error,
          retryAfterMs,
          details: { issuer, problems },
        });
      }
    }
  }
  throw new TokenkeeperError('provider_unavailable', `Discovery failed for issuer ${issuer}: ${problems.join('; ')}`, {
    details: { issuer, problems },
  });
}
