/**
 * The typed HTTP client's actions methods against a real Tokenkeeper on a real port, with the
 * sandbox's writable demo resource behind `sandbox.notes.create`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient, TokenkeeperApiError, type TokenkeeperClient } from '../src/client/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';

describe('client actions methods against a running server', () => {
  let h: Harness;
  let client: TokenkeeperClient;
  let connection: string;

  before(async () => {
    h = await startHarness();
    const url = await h.http.app.listen({ port: 0, host: '127.0.0.1' });
    client = createClient({ url, apiKey: h.apiKey });
    connection = await h.connect('client-actions', 'pat');
  });

  after(async () => {
    await h?.close();
  });

  async function noteTitles(): Promise<string[]> {
    const response = await client.proxyFetch(connection, '/notes');
    return ((await response.json()) as { notes: { title: string }[] }).notes.map((note) => note.title);
  }

  test('listActions, for all and for one integration', async () => {
    const all = await client.listActions();
    assert.ok(all.data.some((action) => action.name === 'google.gmail.send'));
    const sandbox = await client.listActions({ integration: 'sandbox' });
    assert.deepEqual(
      sandbox.data.map((action) => [action.name, action.enabled]),
      [['sandbox.notes.create', true]],
    );
    assert.equal(sandbox.data[0]!.input_schema.type, 'object');
  });

  test('previewAction shows the request and sends nothing; executeAction sends it once per key', async () => {
    const preview = await client.previewAction(connection, 'sandbox.notes.create', { title: 'From the client', text: 'x' });
    assert.equal(preview.method, 'POST');
    assert.equal(preview.headers.authorization, 'Bearer [redacted]');
    assert.deepEqual(await noteTitles(), []);

    const first = await client.executeAction(connection, 'sandbox.notes.create', { title: 'From the client', text: 'x' }, { idempotencyKey: 'client-key-1' });
    assert.equal(first.outcome, 'ok');
    assert.equal(first.replayed, false);
    const again = await client.executeAction(connection, 'sandbox.notes.create', { title: 'From the client', text: 'x' }, { idempotencyKey: 'client-key-1' });
    assert.equal(again.replayed, true);
    assert.deepEqual(again.result, first.result);
    assert.deepEqual(await noteTitles(), ['From the client'], 'one note');
  });

  test('a failure is a TokenkeeperApiError with the outcome in its details', async () => {
    await assert.rejects(client.executeAction(connection, 'sandbox.notes.create', { title: '' }), (error) => {
      assert.ok(error instanceof TokenkeeperApiError);
      assert.equal(error.status, 400);
      assert.equal(error.code, 'invalid_request');
      assert.equal(error.details?.outcome, 'validation_error');
      return true;
    });
    await assert.rejects(client.executeAction(connection, 'sandbox.notes.create', { title: 'x', text: 'y' }, { idempotencyKey: 'client-key-1' }), (error) => {
      assert.ok(error instanceof TokenkeeperApiError);
      assert.equal(error.code, 'idempotency_key_reused');
      return true;
    });
  });
});
