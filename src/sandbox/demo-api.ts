import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider, Token } from 'oidc-provider';
import { decideApiFault, type SandboxFaults } from './faults.ts';
import { BodyTooLargeError, readBody, sendJson } from './http-helpers.ts';
import { accountClaims } from './sandbox-account.ts';

const REALM = 'tokenkeeper-sandbox';

/** How many items `GET /api/items` pages through: enough for three pages of the default size. */
export const DEMO_ITEM_COUNT = 25;
const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 100;
const NOTE_BODY_LIMIT_BYTES = 64 * 1024;
const MAX_TITLE_LENGTH = 200;
const MAX_TEXT_LENGTH = 10_000;

export interface DemoNote {
  id: string;
  title: string;
  text: string;
  created_at: string;
}

export interface DemoApiOptions {
  /** The live fault switches (`apiNext401Count` …), consumed as requests arrive. */
  faults: () => SandboxFaults;
}

/**
 * The demo API behind the sandbox's tokens, so a demo can show a token actually working, a test
 * can show it stops working after expiry or revocation, and the proxy (src/proxy/) has a real
 * API to talk to:
 *
 * - `GET /api/me`: who the token belongs to.
 * - `GET /api/items?page_size=N&page_token=…`: a paginated list (`{items, next_page_token}`).
 * - `POST /api/notes` with `{"title", "text"}` → 201 `{id, title, text, created_at}`; `GET
 *   /api/notes` lists the token's subject's notes, `GET /api/notes/:id` reads one: a writable
 *   resource (the `sandbox.notes.create` action posts here).
 *
 * Tokens are looked up in the provider's own storage (they are opaque), so this API agrees
 * with the token endpoint by construction: a revoked grant or an expired token is simply gone.
 * Client-credentials ("system") tokens are accepted too; their subject is the client. The `api…`
 * fault switches make it answer 401, 429 or 5xx before the token is looked at.
 */
export function createDemoApi(provider: Provider, options: DemoApiOptions) {
  /** Notes by the subject that wrote them; in memory, like everything a test sandbox holds. */
  const notes = new Map<string, DemoNote[]>();
  let nextNote = 1;

  return async function handleDemoApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const route = routeOf(url.pathname);
    if (route === null) {
      sendJson(res, 404, { error: 'not_found', error_description: `No demo API resource at ${url.pathname}.` });
      return;
    }
    const allowed = route.kind === 'notes' ? ['GET', 'HEAD', 'POST'] : ['GET', 'HEAD'];
    if (!allowed.includes(req.method ?? '')) {
      sendJson(res, 405, { error: 'method_not_allowed', error_description: `Use ${allowed.join(' or ')}.` }, { allow: allowed.join(', ') });
      return;
    }

    const value = bearerToken(req.headers.authorization);
    if (value === undefined) {
      // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
      sendJson(res, 401, { error: 'invalid_request', error_description: 'Send Authorization: Bearer <access token>.' }, {
        'www-authenticate': `Bearer realm="${REALM}"`,
      });
      return;
    }

    const fault = decideApiFault(options.faults());
    if (fault.kind === 'rate_limited') {
      sendJson(res, 429, { error: 'rate_limited', error_description: 'Too many requests.' }, { 'retry-after': String(fault.retryAfterSeconds) });
      return;
    }
    if (fault.kind === 'unavailable') {
      sendJson(res, fault.status, { error: 'temporarily_unavailable', error_description: 'The demo API is unavailable.' }, { 'retry-after': String(fault.retryAfterSeconds) });
      return;
    }
    const found = fault.kind === 'unauthorized' ? undefined : await findToken(provider, value);
    if (!found) {
      // RFC 6750 §3.1 invalid_token: expired, revoked, malformed or unknown.
      sendJson(res, 401, { error: 'invalid_token', error_description: 'The access token is expired, revoked or unknown.' }, {
        'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="The access token is expired, revoked or unknown"`,
      });
      return;
    }

    const { token, kind } = found;
    const subject = kind === 'user' && token.accountId !== undefined ? accountClaims(token.accountId).sub : token.clientId;
    switch (route.kind) {
      case 'me': {
        const scope = token.scope ?? '';
        if (kind === 'user' && token.accountId !== undefined) {
          const claims = accountClaims(token.accountId);
          sendJson(res, 200, { sub: claims.sub, email: claims.email, name: claims.name, scope, client_id: token.clientId });
        } else {
          sendJson(res, 200, { sub: token.clientId, email: null, name: null, scope, client_id: token.clientId });
        }
        return;
      }
      case 'items':
        listItems(url, res);
        return;
      case 'note': {
        const note = (notes.get(subject ?? '') ?? []).find((candidate) => candidate.id === route.id);
        if (note) sendJson(res, 200, note);
        else sendJson(res, 404, { error: 'not_found', error_description: `No note ${route.id}.` });
        return;
      }
      case 'notes':
        if (req.method !== 'POST') {
          sendJson(res, 200, { notes: notes.get(subject ?? '') ?? [] });
          return;
        }
        {
          const input = await readNote(req, res);
          if (!input) return;
          const note: DemoNote = { id: `note_${nextNote++}`, title: input.title, text: input.text, created_at: new Date().toISOString() };
          const own = notes.get(subject ?? '') ?? [];
          own.push(note);
          notes.set(subject ?? '', own);
          sendJson(res, 201, note, { location: `/api/notes/${note.id}` });
        }
    }
  };
}

type DemoRoute = { kind: 'me' } | { kind: 'items' } | { kind: 'notes' } | { kind: 'note'; id: string };

function routeOf(path: string): DemoRoute | null {
  if (path === '/api/me') return { kind: 'me' };
  if (path === '/api/items') return { kind: 'items' };
  if (path === '/api/notes') return { kind: 'notes' };
  const note = /^\/api\/notes\/(note_\d{1,12})$/.exec(path);
  return note ? { kind: 'note', id: note[1]! } : null;
}

/**
 * `GET /api/items`: item N is `{ id: "item_N", name: "Item N" }`. The page token is opaque to
 * clients (it is the offset, base64url-encoded) and refused when it is not one we issued.
 */
function listItems(url: URL, res: ServerResponse): void {
  const sizeParam = url.searchParams.get('page_size');
  const pageSize = sizeParam === null ? DEFAULT_PAGE_SIZE : Number(sizeParam);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    sendJson(res, 400, { error: 'invalid_request', error_description: `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}.` });
    return;
  }
  const tokenParam = url.searchParams.get('page_token');
  let offset = 0;
  if (tokenParam !== null) {
    const decoded = /^offset:(\d{1,6})$/.exec(Buffer.from(tokenParam, 'base64url').toString('utf8'));
    offset = decoded ? Number(decoded[1]) : Number.NaN;
    if (!Number.isInteger(offset) || offset <= 0 || offset >= DEMO_ITEM_COUNT) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'page_token is not one this API issued.' });
      return;
    }
  }
  const end = Math.min(DEMO_ITEM_COUNT, offset + pageSize);
  const items = [];
  for (let index = offset + 1; index <= end; index++) items.push({ id: `item_${index}`, name: `Item ${index}` });
  const nextPageToken = end < DEMO_ITEM_COUNT ? Buffer.from(`offset:${end}`).toString('base64url') : null;
  sendJson(res, 200, { items, next_page_token: nextPageToken });
}

/** The body of `POST /api/notes`, or null after answering what is wrong with it. */
async function readNote(req: IncomingMessage, res: ServerResponse): Promise<{ title: string; text: string } | null> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    sendJson(res, 415, { error: 'unsupported_media_type', error_description: 'Send the note as application/json.' });
    return null;
  }
  let body: unknown;
  try {
    body = JSON.parse((await readBody(req, NOTE_BODY_LIMIT_BYTES)).toString('utf8'));
  } catch (error) {
    if (error instanceof BodyTooLargeError) sendJson(res, 413, { error: 'payload_too_large', error_description: 'A note is at most 64 KiB.' });
    else sendJson(res, 400, { error: 'invalid_request', error_description: 'The body is not valid JSON.' });
    return null;
  }
  const { title, text } = (body ?? {}) as { title?: unknown; text?: unknown };
  if (typeof title !== 'string' || title.trim() === '' || title.length > MAX_TITLE_LENGTH) {
    sendJson(res, 400, { error: 'invalid_request', error_description: `title must be a non-empty string of at most ${MAX_TITLE_LENGTH} characters.` });
    return null;
  }
  if (typeof text !== 'string' || text.length > MAX_TEXT_LENGTH) {
    sendJson(res, 400, { error: 'invalid_request', error_description: `text must be a string of at most ${MAX_TEXT_LENGTH} characters.` });
    return null;
  }
  return { title, text };
}

/** RFC 6750 §2.1: `Authorization: Bearer <b64token>`; the scheme is case-insensitive. */
function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match?.[1];
}

async function findToken(provider: Provider, value: string): Promise<{ token: Token; kind: 'user' | 'client' } | undefined> {
  const accessToken = await provider.AccessToken.find(value);
  if (accessToken && !accessToken.isExpired) return { token: accessToken, kind: 'user' };
  const clientToken = await provider.ClientCredentials.find(value);
  if (clientToken && !clientToken.isExpired) return { token: clientToken, kind: 'client' };
  return undefined;
}
