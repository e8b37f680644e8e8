import { apiErrorFrom, parseJson, TokenkeeperApiError } from './api-error.ts';

/** How the client reaches the server; see `ClientOptions` for each field. */
export interface Transport {
  baseUrl: string;
  apiKey: string;
  fetch: typeof fetch;
  timeoutMs: number | undefined;
}

export type QueryValues = Record<string, string | number | boolean | undefined>;

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Relative to the base URL, already percent-encoded (`v1/connections/con_…/token`). */
  path: string;
  query?: QueryValues;
  body?: unknown;
  /** More request headers (`idempotency-key`). */
  headers?: Record<string, string>;
}

/**
 * One call to the API: the bearer key, JSON in and out, and any answer that is not 2xx turned
 * into a `TokenkeeperApiError`. A 204 resolves to `undefined`.
 */
export async function sendRequest<T>(transport: Transport, request: ApiRequest): Promise<T> {
  const url = exactUrl(`${transport.baseUrl}${request.path}`);
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { ...request.headers, authorization: `Bearer ${transport.apiKey}`, accept: 'application/json' };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  const response = await transport.fetch(url, {
    method: request.method,
    headers,
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
    signal: transport.timeoutMs === undefined ? undefined : AbortSignal.timeout(transport.timeoutMs),
  });
  const text = await response.text();
  if (!response.ok) throw apiErrorFrom(response, text);
  if (response.status === 204) return undefined as T;
  const parsed = parseJson(text);
  if (parsed === undefined) {
    throw new TokenkeeperApiError({
      status: response.status,
      code: 'unexpected_response',
      message: `HTTP ${response.status} with a body that is not JSON.`,
      requestId: response.headers.get('x-request-id'),
      retryAfter: null,
    });
  }
  return parsed as T;
}

/**
 * The base URL as a directory, so relative paths keep a prefix a proxy mounts Tokenkeeper under
 * (`https://example.com/tokenkeeper` + `v1/…` is `https://example.com/tokenkeeper/v1/…`).
 */
export function baseUrlOf(url: string | URL): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`The Tokenkeeper URL must be http(s), not ${parsed.protocol}`);
  parsed.search = '';
  parsed.hash = '';
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
  return parsed.href;
}

/**
 * One path segment, percent-encoded, so an id or key can never change the route: `/`, `?`, `#`
 * and `\` are encoded. The dot segments `.` and `..` cannot be encoded away (URL parsing reads
 * `%2E%2E` as `..` too): `exactUrl` refuses them.
 */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * The URL of a request exactly as built, or `invalid_id` (the server's code for an id it cannot
 * take) and nothing sent. fetch parses every URL it sends (WHATWG URL), and that parsing
 * resolves dot segments even percent-encoded (RFC 3986 §5.2.4; `%2E%2E` counts as `..`): an id or
 * key `..` would otherwise address another route (`v1/connections/..` is `v1/`). No id or key of
 * the API is `.` or `..`, and `segment` encodes everything else that parsing could change.
 */
export function exactUrl(raw: string): URL {
  const url = new URL(raw);
  if (url.href === raw) return url;
  throw new TokenkeeperApiError({
    status: 400,
    code: 'invalid_id',
    message: 'The id in the path is not a valid id: "." and ".." are path segments, not ids. Nothing was sent.',
    requestId: null,
    retryAfter: null,
  });
}
