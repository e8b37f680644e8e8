/**
 * Cross-site request forgery guard for the page's forms. A browser names the page that made a
 * POST in `Origin` (RFC 6454 §7, sent on every cross-origin and every form POST by current
 * browsers) or, failing that, in `Referer`; another site cannot forge either. So a form POST is
 * accepted only when that origin is ours:
 *
 * - the origin of `TOKENKEEPER_PUBLIC_URL`, or
 * - the origin the request was addressed to (`Host`), but only for a loopback host — someone
 *   who opened `http://127.0.0.1:3170` while the public URL says `localhost` is still at home,
 *   whereas a non-loopback `Host` that matches its own `Origin` is what a DNS-rebinding page
 *   looks like.
 *
 * A request with neither header (or `Origin: null`, sent from sandboxed frames and opaque
 * origins) is refused: a real form on our page always has one.
 */
export function isSameOriginPost(
  headers: { origin?: string | undefined; referer?: string | undefined; host?: string | undefined },
  publicUrl: string,
  protocol: string,
): boolean {
  const allowed = new Set<string>([new URL(publicUrl).origin]);
  if (headers.host) {
    const own = originOf(`${protocol}://${headers.host}`);
    if (own !== null && LOOPBACK.has(new URL(own).hostname)) allowed.add(own);
  }
  if (headers.origin !== undefined) {
    const origin = originOf(headers.origin);
    return origin !== null && allowed.has(origin);
  }
  if (headers.referer) {
    const origin = originOf(headers.referer);
    return origin !== null && allowed.has(origin);
  }
  return false;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Normalised `scheme://host[:port]` (lower case, default port dropped), or null for `null`/garbage. */
function originOf(value: string): string | null {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    return url.origin;
  } catch {
    return null;
  }
}
