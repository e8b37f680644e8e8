import * as oauth from 'oauth4webapi';
import { TokenkeeperError } from '../errors.ts';
import { needsInsecureTransport } from '../providers/index.ts';
import { limitResponseBody } from './limited-body.ts';
import type { ProviderEndpointKind } from './provider-error.ts';
import { MAX_PROVIDER_RESPONSE_BYTES } from './provider-limits.ts';

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface TransportSettings {
  fetch: typeof fetch;
  timeoutMs: number;
}

/**
 * One request's transport: a signal that fires on the caller's abort or the default timeout,
 * whichever comes first, and a fetch that turns network failures into typed transient errors
 * and caps every response body at MAX_PROVIDER_RESPONSE_BYTES (see `limitResponseBody`).
 */
export interface RequestTransport {
  signal: AbortSignal;
  /** Options for an oauth4webapi request function. */
  options(url: string, headers?: Record<string, string>): oauth.HttpRequestOptions<'GET' | 'POST', URLSearchParams | undefined>;
  /** Reads a body under the same signal, size cap and error mapping. */
  readText(response: Response): Promise<string>;
}

export function createRequestTransport(
  settings: TransportSettings,
  endpoint: ProviderEndpointKind,
  callerSignal?: AbortSignal,
): RequestTransport {
  const timeout = AbortSignal.timeout(settings.timeoutMs);
  const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
  const fail = (error: unknown): never => {
    throw transportFailure(error, endpoint, signal, settings.timeoutMs);
  };
  return {
    signal,
    options(url, headers) {
      return {
        signal,
        headers,
        [oauth.customFetch]: (target: string, init: RequestInit) =>
          settings.fetch(target, init).then((response) => limitResponseBody(response, MAX_PROVIDER_RESPONSE_BYTES, endpoint), fail),
        // http is refused by oauth4webapi; allow it only for loopback hosts (the sandbox, tests).
        [oauth.allowInsecureRequests]: needsInsecureTransport(url),
      } as oauth.HttpRequestOptions<'GET' | 'POST', URLSearchParams | undefined>;
    },
    async readText(response) {
      try {
        return await response.text();
      } catch (error) {
        return fail(error);
      }
    },
  };
}

/**
 * Network errors, timeouts and aborts are transient (DESIGN.md invariant 5): the provider may
 * be fine a moment later. The message names the endpoint kind, never a URL's query or a token.
 */
function transportFailure(error: unknown, endpoint: ProviderEndpointKind, signal: AbortSignal, timeoutMs: number): TokenkeeperError {
  if (error instanceof TokenkeeperError) return error;
  const reason = signal.aborted
    ? (signal.reason as { name?: unknown } | undefined)?.name === 'TimeoutError' ? 'timeout' : 'aborted'
    : 'network';
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  const networkCode = typeof cause?.code === 'string' ? cause.code : undefined;
  const message =
    reason === 'timeout' ? `The provider's ${endpoint} endpoint did not answer within ${timeoutMs} ms.`
    : reason === 'aborted' ? `The request to the provider's ${endpoint} endpoint was aborted.`
    : `The provider's ${endpoint} endpoint could not be reached${networkCode ? ` (${networkCode})` : ''}.`;
  return new TokenkeeperError('provider_unavailable', message, {
    cause: error,
    details: { endpoint, reason, ...(networkCode ? { network_error: networkCode } : {}) },
  });
}
