/**
 * Walks the sandbox's login and consent pages over plain HTTP, the way a person in a browser
 * would, so tests can complete a real authorization-code flow without a browser.
 *
 * It starts at `authorizationUrl` (the sandbox's authorization URL, or an app URL that
 * redirects there, such as Tokenkeeper's connect link), follows redirects by hand with a cookie
 * jar, submits the login form with the username and then the consent form (Allow, or Deny), and
 * returns the URL of the final redirect back to the client — with `code` and `state`, or with
 * `error=access_denied` — WITHOUT requesting it, so the caller decides what to do with it.
 */

export interface SandboxLoginOptions {
  /** The account to sign in as; it becomes the `sub`. Default `alice`. */
  username?: string;
  /** Press Deny on the consent page instead of Allow. */
  deny?: boolean;
}

const MAX_STEPS = 20;

export async function completeSandboxLogin(authorizationUrl: string | URL, options: SandboxLoginOptions = {}): Promise<URL> {
  const username = options.username ?? 'alice';
  const jar = new CookieJar();
  let url = new URL(authorizationUrl);
  let request: { method: 'GET' | 'POST'; body?: string } = { method: 'GET' };
  /** The origin that served the sandbox's pages; a redirect leaving it is the final one. */
  let sandboxOrigin: string | undefined;
  const submitted = new Set<string>();

  for (let step = 0; step < MAX_STEPS; step++) {
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    if (request.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method: request.method, headers, body: request.body, redirect: 'manual' });
    jar.store(url, response.headers.getSetCookie());

    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const location = response.headers.get('location');
      if (!location) throw new Error(`sandbox login: ${response.status} from ${url.pathname} without a Location header`);
      const next = new URL(location, url);
      // RFC 9207: the authorization response names its issuer; that marks the final redirect
      // even when no page was shown (e.g. an error sent straight back to the client).
      const issuer = next.searchParams.get('iss');
      if ((sandboxOrigin !== undefined && next.origin !== sandboxOrigin) || (issuer !== null && issuer === url.origin)) {
        return next;
      }
      url = next;
      request = { method: 'GET' };
      continue;
    }

    const html = await response.text();
    const forms = parseForms(html);
    const formId = forms.has('login-form') ? 'login-form' : forms.has('allow-form') ? (options.deny ? 'deny-form' : 'allow-form') : undefined;
    if (formId === undefined || !forms.has(formId)) {
      throw new Error(`sandbox login: unexpected ${response.status} page at ${url.pathname}: ${pageText(html)}`);
    }
    const action = new URL(forms.get(formId)!, url);
    if (submitted.has(action.href)) {
      throw new Error(`sandbox login: the ${formId} was shown again after submitting it: ${pageText(html)}`);
    }
    submitted.add(action.href);
    sandboxOrigin = url.origin;
    url = action;
    request = {
      method: 'POST',
      body: formId === 'login-form' ? new URLSearchParams({ username }).toString() : '',
    };
  }
  throw new Error(`sandbox login: no redirect back to the client after ${MAX_STEPS} steps`);
}

/** Form id → action, for the forms of the sandbox's own pages. */
function parseForms(html: string): Map<string, string> {
  const forms = new Map<string, string>();
  for (const match of html.matchAll(/<form\b([^>]*)>/gi)) {
    const attributes = new Map<string, string>();
    for (const attribute of match[1]!.matchAll(/([a-zA-Z-]+)="([^"]*)"/g)) {
      attributes.set(attribute[1]!.toLowerCase(), decodeEntities(attribute[2]!));
    }
    const id = attributes.get('id');
    const action = attributes.get('action');
    if (id !== undefined && action !== undefined) forms.set(id, action);
  }
  return forms;
}

function decodeEntities(value: string): string {
  return value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function pageText(html: string): string {
  return decodeEntities(html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim().slice(0, 300);
}

interface StoredCookie {
  value: string;
  path: string;
  expiresAt: number;
}

/**
 * Just enough of RFC 6265 for these flows: cookies per host, path-matched (§5.1.4), with
 * Max-Age/Expires honoured so deleted cookies go away.
 */
class CookieJar {
  readonly #byHost = new Map<string, Map<string, StoredCookie>>();

  store(url: URL, setCookies: string[]): void {
    let cookies = this.#byHost.get(url.host);
    if (!cookies) this.#byHost.set(url.host, (cookies = new Map()));
    for (const line of setCookies) {
      const [pair, ...attributeParts] = line.split(';');
      const separator = pair!.indexOf('=');
      if (separator <= 0) continue;
      const name = pair!.slice(0, separator).trim();
      const value = pair!.slice(separator + 1).trim();
      let path = defaultPath(url);
      let expiresAt = Infinity;
      for (const part of attributeParts) {
        const [rawKey, ...rest] = part.split('=');
        const key = rawKey!.trim().toLowerCase();
        const attributeValue = rest.join('=').trim();
        if (key === 'path' && attributeValue.startsWith('/')) path = attributeValue;
        if (key === 'max-age') expiresAt = Date.now() + Number(attributeValue) * 1000;
        if (key === 'expires' && expiresAt === Infinity) expiresAt = Date.parse(attributeValue);
      }
      const key = `${name}\u0000${path}`;
      if (expiresAt <= Date.now() || value === '') cookies.delete(key);
      else cookies.set(key, { value, path, expiresAt });
    }
  }

  header(url: URL): string {
    const cookies = this.#byHost.get(url.host);
    if (!cookies) return '';
    const out: string[] = [];
    for (const [key, cookie] of cookies) {
      if (cookie.expiresAt <= Date.now()) continue;
      if (!pathMatches(url.pathname, cookie.path)) continue;
      out.push(`${key.slice(0, key.indexOf('\u0000'))}=${cookie.value}`);
    }
    return out.join('; ');
  }
}

function defaultPath(url: URL): string {
  const last = url.pathname.lastIndexOf('/');
  return last <= 0 ? '/' : url.pathname.slice(0, last);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}
