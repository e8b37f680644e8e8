import { TokenkeeperError } from '../errors.ts';

/**
 * Where a proxied call goes: the API base URL's origin, and the request-target to send there
 * (the base path, the caller's path and query), byte for byte as the caller wrote them.
 */
export interface ProxyTarget {
  /** `https://api.github.com`: scheme, host and port, fixed by the base URL. */
  origin: string;
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number;
  /** `/api/chat.postMessage?channel=C1`: what goes on the request line. */
  path: string;
}

/**
 * RFC 3986 §3.3 `pchar` (unreserved, sub-delims, `:` and `@`) plus `/`, and `%` (checked as
 * percent-encoding on its own). Anything else — a backslash, a space, `#`, `<`, `|`, a byte
 * beyond ASCII — is refused rather than escaped: a caller writing it means something we cannot
 * be sure the provider's server reads the same way.
 */
const PATH_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
/** The query adds `?` (§3.4). */
const QUERY_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/;

/**
 * An API base URL read once (`parseApiBase`): what every target under it shares. Parsing it is
 * the costly part of building a target, and the base only changes with its integration, so the
 * proxy keeps one per integration row (api-base-url.ts `ApiBases`).
 */
export interface ApiBase {
  origin: string;
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number;
  /** The base URL's path without trailing slashes: `/api`, or empty. */
  path: string;
}

/** Reads an API base URL (already checked by `apiBaseUrlOf`) into the parts targets are built from. */
export function parseApiBase(baseUrl: string): ApiBase {
  const base = new URL(baseUrl);
  return {
    origin: base.origin,
    protocol: base.protocol as 'http:' | 'https:',
    hostname: base.hostname.startsWith('[') ? base.hostname.slice(1, -1) : base.hostname,
    port: base.port === '' ? (base.protocol === 'https:' ? 443 : 80) : Number(base.port),
    path: base.pathname.replace(/\/+$/, ''),
  };
}

/**
 * Builds the target of a proxied call from the integration's API base URL (a string, or parsed
 * once by `parseApiBase`) and the caller's path (with its query), as the caller sent it: still
 * percent-encoded, starting with `/` or `?`, or empty for the base URL itself.
 *
 * The target is *never* resolved against the base (`new URL(path, base)` would let `//evil.com`
 * or an absolute URL replace the host): it is the base's origin, the base's path, then the
 * caller's path, concatenated. What could still climb out of the base path or be read
 * differently by the provider's server is refused with `proxy_path_invalid`, before anything is
 * sent (the SSRF shapes of OWASP's cheat sheet and of path normalisation bugs):
 *
 * - `//` anywhere (a scheme-relative `//host`, or an empty segment some servers collapse);
 * - a `.` or `..` segment, whether written plainly, percent-encoded (`%2e%2e`, `.%2E`) or with
 *   parameters (`..;`), since servers that normalise would resolve it;
 * - an encoded `/` or `\` (`%2f`, `%5c`): a second decoding would make new segments;
 * - `%25` (an encoded `%`): double encoding, which a second decoding turns into any of the above;
 * - encoded control characters, bytes that are not UTF-8, and characters outside RFC 3986.
 *
 * Then, as a last check, the URL parser must read the result with the base's origin and exactly
 * the path built: no normalisation may have changed it.
 */
export function proxyTarget(baseUrl: string | ApiBase, pathAndQuery: string): ProxyTarget {
  const base = typeof baseUrl === 'string' ? parseApiBase(baseUrl) : baseUrl;
  const queryAt = pathAndQuery.indexOf('?');
  const path = queryAt === -1 ? pathAndQuery : pathAndQuery.slice(0, queryAt);
  const query = queryAt === -1 ? '' : pathAndQuery.slice(queryAt + 1);

  if (path !== '' && !path.startsWith('/')) refuse('the path must start with "/"');
  if (!PATH_CHARACTERS.test(path)) refuse('the path has a character outside RFC 3986 (a backslash, a space, "#", or a byte beyond ASCII)');
  if (path.includes('//')) refuse('the path has an empty segment ("//")');
  checkPercentEncoding(path, 'path');
  checkDotSegments(path);
  if (!QUERY_CHARACTERS.test(query)) refuse('the query has a character outside RFC 3986');
  checkPercentEncoding(query, 'query');

  const fullPath = `${base.path}${path}` || '/';
  const parsed = new URL(`${base.origin}${fullPath}`);
  if (parsed.origin !== base.origin || parsed.pathname !== fullPath) refuse('the path does not stay under the API base URL');
  return {
    origin: base.origin,
    protocol: base.protocol,
    hostname: base.hostname,
    port: base.port,
    path: query === '' ? fullPath : `${fullPath}?${query}`,
  };
}

/**
 * Refuses `.` and `..` segments, plain or percent-encoded. A segment with neither `.` nor `%`
 * cannot decode to one (nor fail to decode), so only the others are decoded.
 */
function checkDotSegments(path: string): void {
  if (!path.includes('.') && !path.includes('%')) return;
  for (const segment of path.split('/').slice(1)) {
    if (!segment.includes('.') && !segment.includes('%')) continue;
    const decoded = decodeSegment(segment);
    // `..;x` and `.;x` are dot segments to servers that strip path parameters (Tomcat, Spring).
    if (/^\.+$/.test(decoded.split(';')[0]!)) refuse('the path has a "." or ".." segment');
  }
}

function checkPercentEncoding(part: string, name: 'path' | 'query'): void {
  if (!part.includes('%')) return;
  for (const match of part.matchAll(/%(.{0,2})/g)) {
    const hex = match[1]!;
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) refuse(`the ${name} has a "%" that is not percent-encoding`);
    const code = Number.parseInt(hex, 16);
    if (code === 0x25) refuse(`the ${name} is encoded twice ("%25")`);
    if (code < 0x20 || code === 0x7f) refuse(`the ${name} has an encoded control character`);
    if (name === 'path' && (code === 0x2f || code === 0x5c)) refuse('the path has an encoded "/" or "\\" ("%2F", "%5C")');
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return refuse('the path has percent-encoded bytes that are not UTF-8');
  }
}

function refuse(reason: string): never {
  throw new TokenkeeperError('proxy_path_invalid', `Refused proxy path: ${reason}. Nothing was sent.`, { details: { reason } });
}
