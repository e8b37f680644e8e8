/**
 * Header rules of the proxy, in both directions.
 *
 * Hop-by-hop headers (RFC 9110 §7.6.1, and the `Proxy-*`/`Keep-Alive` family RFC 2616 §13.5.1
 * listed) describe one connection, not the message: a proxy must not forward them, nor any
 * header the `Connection` header names.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers that are about the caller's exchange with Tokenkeeper, not about the call to
 * the provider: its `Authorization` is its Tokenkeeper API key (never forwarded: the provider
 * gets the connection's token instead), `Host` is ours, `Cookie` is for us if anyone, `Expect`
 * was answered by our server, and the `Forwarded` family would tell the provider about the
 * caller's network. `Content-Length` is set again from the body actually sent.
 */
const CALLER_ONLY = new Set([
  'authorization',
  'host',
  'cookie',
  'expect',
  'content-length',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-proto',
  'x-real-ip',
]);

/** Headers in our own namespace: the caller cannot pass them on, the provider cannot forge them. */
export const TOKENKEEPER_HEADER_PREFIX = 'tokenkeeper-';

export type HeaderValues = Record<string, string | string[] | undefined>;

/**
 * The names a `Connection` header lists (RFC 9110 §7.6.1), lower-cased; null when there is none
 * or it is the everyday `keep-alive`, which names only a header that is hop-by-hop anyway.
 */
function namedInConnection(headers: HeaderValues): Set<string> | null {
  const value = headers.connection;
  if (value === undefined || value === 'keep-alive' || value === 'Keep-Alive') return null;
  const names = new Set<string>();
  for (const item of Array.isArray(value) ? value : [value]) {
    for (const name of item.split(',')) if (name.trim() !== '') names.add(name.trim().toLowerCase());
  }
  return names;
}

/**
 * The headers sent to the provider: the caller's, minus hop-by-hop, caller-only and our own,
 * plus the connection's token as RFC 6750 §2.1 `Authorization: Bearer`, and a `User-Agent`
 * when the caller sent none (GitHub refuses requests without one).
 */
export function outboundHeaders(incoming: HeaderValues, accessToken: string, contentLength: number | null): Record<string, string | string[]> {
  const dropped = namedInConnection(incoming);
  const out: Record<string, string | string[]> = {};
  // Names, not Object.entries' [name, value] pairs: this runs for every proxied call.
  for (const rawName of Object.keys(incoming)) {
    const value = incoming[rawName];
    const name = rawName.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(name) || CALLER_ONLY.has(name) || dropped?.has(name) || name.startsWith(TOKENKEEPER_HEADER_PREFIX)) continue;
    out[name] = value;
  }
  out['user-agent'] ??= 'tokenkeeper-proxy';
  if (contentLength !== null) out['content-length'] = String(contentLength);
  out.authorization = `Bearer ${accessToken}`;
  return out;
}

/** The provider's answer headers passed back: minus hop-by-hop and anything in our namespace. */
export function inboundHeaders(incoming: HeaderValues): Record<string, string | string[]> {
  const dropped = namedInConnection(incoming);
  const out: Record<string, string | string[]> = {};
  for (const rawName of Object.keys(incoming)) {
    const value = incoming[rawName];
    const name = rawName.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(name) || dropped?.has(name) || name.startsWith(TOKENKEEPER_HEADER_PREFIX)) continue;
    out[name] = value;
  }
  return out;
}
