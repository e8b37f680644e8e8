import { apiErrorFrom, TokenkeeperApiError } from './api-error.ts';
import { exactUrl, segment, type Transport } from './send-request.ts';

/**
 * The header every answer of the proxy carries (docs/proxy.md), the provider's whatever its
 * status, and that Tokenkeeper's own refusals never carry: the server drops anything named
 * `tokenkeeper-*` from the provider's headers, so a provider cannot forge it, and answers its own
 * errors without any of the provider's headers (src/http/proxy-routes.ts).
 */
const PROXY_ANSWER_MARKER = 'tokenkeeper-proxy-attempts';

/**
 * `ANY /v1/proxy/:connection_id/<path>` with fetch's types: resolves with the provider's answer,
 * whatever its status, as the `Response` fetch gives; rejects with a `TokenkeeperApiError` when
 * the answer is Tokenkeeper's own (a refusal, or a call it could not complete), and with fetch's
 * own error when the network failed or `init.signal` aborted.
 *
 * - `path` is relative to the integration's API base URL and goes on the request line exactly as
 *   given, percent-encoding included. fetch parses every URL it sends (WHATWG URL), resolving
 *   `..` and `%2e%2e`, turning `\` into `/`, escaping spaces and non-ASCII and dropping a
 *   fragment; a path that parsing would change is refused here with the server's own code,
 *   `proxy_path_invalid`, and nothing is sent (else `/../../connections/…` would reach
 *   Tokenkeeper's own API with the API key instead of the provider).
 * - `Authorization` is the client's API key, whatever `init.headers` says: the server never
 *   forwards it, the provider gets the connection's token.
 * - Redirects are not followed (`redirect: 'manual'`): the provider's 3xx comes back as it is,
 *   as the proxy itself never follows one; following its `Location` from here would bypass the
 *   proxy, or send the API key back to Tokenkeeper under a path the provider chose.
 * - The body streams (any `BodyInit`, a `ReadableStream` too); `timeoutMs` bounds the wait for
 *   the answer's headers only, so a long download is not cut off: abort it with `init.signal`.
 */
export async function sendProxyRequest(transport: Transport, connectionId: string, path: string, init: RequestInit = {}): Promise<Response> {
  const target = path === '' || path.startsWith('/') || path.startsWith('?') ? path : `/${path}`;
  const route = `${transport.baseUrl}v1/proxy/${segment(connectionId)}`;
  exactUrl(`${route}/`);
  const raw = `${route}${target}`;
  const url = new URL(raw);
  if (target.includes('#')) refuse('the path has a "#": a fragment is never sent');
  if (url.href !== raw) refuse('URL parsing would change it (it resolves "." and ".." segments, also percent-encoded, reads "\\" as "/", and escapes spaces, non-ASCII and a few other characters)');

  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${transport.apiKey}`);
  const timer = transport.timeoutMs === undefined ? null : new AbortController();
  const signals = [init.signal, timer?.signal].filter((signal): signal is AbortSignal => signal != null);
  const timeout = timer && setTimeout(() => timer.abort(new DOMException(`No answer within ${transport.timeoutMs} ms.`, 'TimeoutError')), transport.timeoutMs);
  let response: Response;
  try {
    response = await transport.fetch(url, {
      ...init,
      // fetch upper-cases only some methods; the server's routes (as `tk.proxy.fetch`) take `patch` too.
      method: init.method?.toUpperCase(),
      headers,
      redirect: 'manual',
      signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      // Node's fetch streams a ReadableStream body only when told so (half duplex: the whole body, then the answer).
      ...(init.body == null ? {} : { duplex: 'half' }),
    } as RequestInit);
  } finally {
    if (timeout) clearTimeout(timeout);
  }
  if (response.headers.has(PROXY_ANSWER_MARKER)) return response;
  throw apiErrorFrom(response, await response.text());
}

function refuse(reason: string): never {
  throw new TokenkeeperApiError({
    status: 400,
    code: 'proxy_path_invalid',
    message: `Refused proxy path: ${reason}. Nothing was sent.`,
    details: { reason },
    requestId: null,
    retryAfter: null,
  });
}
