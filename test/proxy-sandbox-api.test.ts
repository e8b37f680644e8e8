/**
 * The sandbox demo API the proxy tests talk to, on its own: the paginated and writable
 * resources, and the switches that make it refuse tokens or rate-limit, over real HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SANDBOX_DEFAULT_CLIENT, startSandbox, type SandboxServer } from '../src/sandbox/index.ts';

describe('sandbox demo API', () => {
  let sandbox: SandboxServer;

  /** A client-credentials token of the dev client (the demo API takes those too). */
  async function clientToken(): Promise<string> {
    const response = await fetch(`${sandbox.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${SANDBOX_DEFAULT_CLIENT.client_id}:${SANDBOX_DEFAULT_CLIENT.client_secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials&scope=api',
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  function api(path: string, token: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${sandbox.issuer}/api${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
  }

  before(async () => {
    sandbox = await startSandbox();
  });
  beforeEach(() => sandbox.resetFaults());
  after(() => sandbox.close());

  test('GET /api/items pages through 25 items; a page token it did not issue is refused', async () => {
    const token = await clientToken();
    const first = (await (await api('/items?page_size=20', token)).json()) as { items: { id: string; name: string }[]; next_page_token: string };
    assert.equal(first.items.length, 20);
    assert.deepEqual(first.items[0], { id: 'item_1', name: 'Item 1' });
    const second = (await (await api(`/items?page_size=20&page_token=${first.next_page_token}`, token)).json()) as { items: { id: string }[]; next_page_token: string | null };
    assert.deepEqual(second.items.map((item) => item.id), ['item_21', 'item_22', 'item_23', 'item_24', 'item_25']);
    assert.equal(second.next_page_token, null);
    assert.equal((await api('/items?page_token=bogus', token)).status, 400);
    assert.equal((await api('/items?page_size=0', token)).status, 400);
    assert.equal((await api('/items?page_size=101', token)).status, 400);
  });

  test('POST /api/notes writes {title, text} and answers 201 {id, title, text, created_at}; bad notes are refused', async () => {
    const token = await clientToken();
    const json = { 'content-type': 'application/json' };
    const created = await api('/notes', token, { method: 'POST', headers: json, body: JSON.stringify({ title: 'Title', text: 'Body' }) });
    assert.equal(created.status, 201);
    const note = (await created.json()) as { id: string; title: string; text: string; created_at: string };
    assert.deepEqual(Object.keys(note).sort(), ['created_at', 'id', 'text', 'title']);
    assert.match(note.id, /^note_\d+$/);
    assert.ok(!Number.isNaN(Date.parse(note.created_at)));
    assert.equal(created.headers.get('location'), `/api/notes/${note.id}`);
    assert.deepEqual(await (await api(`/notes/${note.id}`, token)).json(), note);
    assert.deepEqual(((await (await api('/notes', token)).json()) as { notes: unknown[] }).notes, [note]);
    assert.equal((await api('/notes/note_999999', token)).status, 404);

    for (const [body, headers, status] of [
      [JSON.stringify({ text: 'no title' }), json, 400],
      [JSON.stringify({ title: '', text: 'x' }), json, 400],
      [JSON.stringify({ title: 'x', text: 5 }), json, 400],
      ['{not json', json, 400],
      ['title=x&text=y', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
    ] as const) {
      assert.equal((await api('/notes', token, { method: 'POST', headers, body })).status, status, body);
    }
    assert.equal((await api('/me', token, { method: 'POST', headers: json, body: '{}' })).status, 405);
    assert.equal((await api('/nowhere', token)).status, 404);
    assert.equal((await fetch(`${sandbox.issuer}/api/notes`)).status, 401, 'no token, no notes');
  });

  test('switches: 401 once, 429 and 5xx with Retry-After, access tokens expired early', async () => {
    const token = await clientToken();
    const faults = await fetch(`${sandbox.issuer}/_sandbox/faults`, { method: 'POST', body: JSON.stringify({ apiNext401Count: 1, apiNext429Count: 1, apiNext5xxCount: 1, retryAfterSeconds: 7 }) });
    assert.equal(faults.status, 200);
    const refused = await api('/me', token);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const limited = await api('/me', token);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    const unavailable = await api('/me', token);
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers.get('retry-after'), '7');
    assert.equal((await api('/me', token)).status, 200, 'each switch counted itself down');

    const expired = await fetch(`${sandbox.issuer}/_sandbox/expire-access-tokens`, { method: 'POST' });
    assert.ok(((await expired.json()) as { expired: number }).expired >= 1);
    assert.equal((await api('/me', token)).status, 401);
    assert.equal((await api('/me', await clientToken())).status, 200, 'a new token works');
    assert.equal((await fetch(`${sandbox.issuer}/_sandbox/expire-access-tokens`, { method: 'POST', body: '{"account_id": 5}' })).status, 400);
  });
});
