import { TokenkeeperError } from '../errors.ts';
import type { ProviderEntry } from '../providers/index.ts';
import { OAuthProviderError, type ProviderEndpointKind } from './provider-error.ts';
import { parseRetryAfter } from './retry-after.ts';

export interface ParsedResponse {
  status: number;
  /** Parsed JSON or form-encoded body; null when it is neither. */
  body: unknown;
  retryAfterMs: number | null;
}

/**
 * Parses a provider answer and lets the provider's quirk rewrite it (GitHub's and Slack's
 * errors with HTTP 200). JSON is the norm (RFC 6749 §5.1); form encoding is what GitHub sends
 * without `Accept: application/json`, and is accepted for any provider that labels it so.
 */
export function parseProviderResponse(response: Response, text: string, provider: ProviderEntry, now: number): ParsedResponse {
  const contentType = (response.headers.get('content-type') ?? '').toLowerCase();
  let body: unknown = null;
  if (contentType.includes('application/x-www-form-urlencoded')) {
    body = Object.fromEntries(new URLSearchParams(text));
  } else {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  const normalized = provider.quirks.normalizeTokenResponse?.(response.status, body) ?? { status: response.status, body };
  return { status: normalized.status, body: normalized.body, retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), now) };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Turns a non-2xx answer into the right error: an OAuth error body becomes an
 * OAuthProviderError (classified by its code); without one, 429 and 5xx are "unavailable"
 * (transient), a 401 from the token endpoint is the integration's client authentication failing
 * (RFC 6749 §5.2: `invalid_client` is answered with 401, and some providers send the 401 with an
 * empty or HTML body), and anything else is "not a valid OAuth response" (transient: a broken
 * provider must not make users reconnect).
 */
export function errorForStatus(parsed: ParsedResponse, endpoint: ProviderEndpointKind, sentSecrets: readonly string[] = []): Error {
  const retryAfterMs = parsed.retryAfterMs ?? undefined;
  if (isRecord(parsed.body) && typeof parsed.body.error === 'string' && parsed.body.error.length > 0) {
    return new OAuthProviderError({ status: parsed.status, body: scrub(parsed.body, sentSecrets), endpoint, retryAfterMs });
  }
  if (parsed.status === 429 || parsed.status >= 500) {
    return new TokenkeeperError('provider_unavailable', `The provider's ${endpoint} endpoint answered HTTP ${parsed.status}.`, {
      retryAfterMs,
      details: { endpoint, status: parsed.status },
    });
  }
  if (parsed.status === 401 && endpoint === 'token') {
    return new TokenkeeperError('integration_failing', "The provider's token endpoint refused the integration's client authentication (HTTP 401).", {
      details: { endpoint, status: parsed.status },
    });
  }
  return new TokenkeeperError('invalid_provider_response', `The provider's ${endpoint} endpoint answered HTTP ${parsed.status} without an OAuth error.`, {
    details: { endpoint, status: parsed.status },
  });
}

export function garbage(endpoint: ProviderEndpointKind, problem: string, status: number): TokenkeeperError {
  return new TokenkeeperError('invalid_provider_response', `The provider's ${endpoint} endpoint answered with ${problem}.`, {
    details: { endpoint, status, problem },
  });
}

/**
 * A provider that echoes the refresh token or code it was sent (in `error_description`, say)
 * must not get it into our errors: every occurrence of a value we sent is replaced.
 */
function scrub(body: Record<string, unknown>, secrets: readonly string[]): Record<string, unknown> {
  const live = secrets.filter((secret) => secret.length >= 4);
  if (live.length === 0) return body;
  const clean = (value: unknown): unknown => {
    if (typeof value === 'string') return live.reduce((text, secret) => text.replaceAll(secret, '[redacted]'), value);
    if (Array.isArray(value)) return value.map(clean);
    if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, clean(item)]));
    return value;
  };
  return clean(body) as Record<string, unknown>;
}
