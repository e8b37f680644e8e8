import type { IncomingMessage, ServerResponse } from 'node:http';

/** Small request/response helpers for the sandbox's own routes (plain node:http). */

export class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large');
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Reads the whole body, refusing more than `limit` bytes. A refused body is drained rather than
 * cut off, so the client finishes sending and reads the 413 instead of a connection reset.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (): never => {
    req.resume();
    throw new BodyTooLargeError();
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) tooLarge();
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    received += (chunk as Buffer).length;
    if (received > limit) tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, received);
}

/**
 * Every sandbox answer is uncacheable: tokens and interaction pages must never be served from a
 * cache (RFC 6749 §5.1 requires `Cache-Control: no-store` on token responses).
 */
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...NO_STORE,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * Interaction pages allow inline styles and nothing else; no `form-action` directive, because
 * browsers apply it to the redirect chain after a form post, which ends at the client's
 * redirect_uri on another origin.
 */
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'";

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    ...NO_STORE,
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
    'content-security-policy': PAGE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}

/** `{ error: { code, message } }`, the one error body shape of Tokenkeeper's own routes. */
export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, headers);
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * Whether a browser sent this request on behalf of a page other than the sandbox's own.
 * `Sec-Fetch-Site` (Fetch Metadata) says so directly: only `same-origin` and `none` (typed or
 * bookmarked) are ours. `Origin` (RFC 6454 §7; sent by browsers with every POST) must be the
 * origin the request was addressed to, and that origin must be a loopback name: a DNS-rebinding
 * page names itself consistently in `Host` and `Origin`, but under its own domain. `Origin: null`
 * (sandboxed frames, opaque origins) is never ours.
 */
export function isCrossSiteRequest(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  let own: URL;
  try {
    own = new URL(`http://${req.headers.host ?? ''}`);
  } catch {
    return true;
  }
  const loopbackName = own.hostname === 'localhost' || own.hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(own.hostname);
  return !loopbackName || origin.toLowerCase() !== own.origin;
}
