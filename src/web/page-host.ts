import { isLoopbackHost } from '../providers/index.ts';

/**
 * DNS-rebinding guard for the pages. A hostile page can make its own host name resolve to this
 * machine and then read our pages as "same origin"; what it cannot change is the `Host` header
 * the browser sends, which names the attacker's domain (RFC 9110 §7.2). So the pages answer
 * only under:
 *
 * - the host of TOKENKEEPER_PUBLIC_URL (its port, or the scheme's default), and
 * - loopback names (`localhost`, 127.0.0.0/8, `[::1]`) on any port: a browser sends those only
 *   when someone on this machine typed them, and an SSH tunnel or `docker run -p 8080:3170`
 *   changes the port without changing who is asking.
 *
 * Only the pages are checked. The connect link and the OAuth callback hold their own one-time
 * secrets (a rebinding page has neither), and behind a reverse proxy that does not pass `Host`
 * on, checking them would break every connect flow; the API needs a bearer key.
 */
export function isAllowedPageHost(host: string | undefined, publicUrl: string): boolean {
  if (host === undefined || host === '') return false;
  const configured = new URL(publicUrl);
  let requested: URL;
  try {
    // Parsed with the public URL's scheme so that `example.com:443` equals `example.com` for https.
    requested = new URL(`${configured.protocol}//${host}`);
  } catch {
    return false;
  }
  if (requested.username !== '' || requested.password !== '' || requested.pathname !== '/' || requested.search !== '' || requested.hash !== '') return false;
  if (requested.hostname === configured.hostname && requested.port === configured.port) return true;
  return isLoopbackHost(requested.hostname);
}
