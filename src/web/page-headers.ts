import type { FastifyReply } from 'fastify';

export interface HtmlPageOptions {
  /** CSP nonce of the page's one inline script; without one, no script runs at all. */
  nonce?: string;
  /**
   * Default `no-referrer`: the connect pages' URLs hold one-time link tokens and authorization
   * codes, which must never travel on in a `Referer`. The dashboard needs `same-origin`
   * instead: under `no-referrer` a browser sends `Origin: null` with a form POST (Fetch
   * §3.1, "append a request `Origin` header"), and its Connect form would fail its own
   * same-origin check.
   */
  referrerPolicy?: 'no-referrer' | 'same-origin';
}

/**
 * Sends an HTML page with the headers every page of Tokenkeeper carries: a Content Security
 * Policy that allows inline styles, only the nonce'd script (if any) and same-origin fetches
 * for it, no framing (`frame-ancestors 'none'`: the Connect button and the connect flow's
 * outcome pages must not be clickjacked), no `<base>` rewriting; `nosniff`; a referrer policy;
 * and `no-store`, since the pages show owners and accounts.
 *
 * No `form-action`: browsers apply it to the whole redirect chain after a form POST, and the
 * Connect form's chain ends at the provider, on another origin.
 */
export function sendHtmlPage(reply: FastifyReply, status: number, html: string, options: HtmlPageOptions = {}): FastifyReply {
  const scripts = options.nonce ? `script-src 'nonce-${options.nonce}'; connect-src 'self'` : "script-src 'none'";
  return reply
    .code(status)
    .headers({
      'content-security-policy': `default-src 'none'; ${scripts}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': options.referrerPolicy ?? 'no-referrer',
      'cache-control': 'no-store',
    })
    .type('text/html; charset=utf-8')
    .send(html);
}
