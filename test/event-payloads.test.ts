/**
 * A connection's events speak the API's language wherever they appear, in
 * `/v1/connections/:id/events` and in the logs: snake_case keys and ISO 8601 times, like every
 * other body the API returns, including events stored before this was so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { appendEvent } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function camelKeys(value: unknown, path = ''): string[] {
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => [...(/[A-Z]/.test(key) ? [`${path}${key}`] : []), ...camelKeys(item, `${path}${key}.`)]);
}

for (const dialect of testDialects()) {
  describe(`event payloads (${dialect})`, () => {
    let h: Harness;
    let id: string;
    before(async () => {
      h = await startHarness({ dialect });
      id = await h.connect('events-user', 'eve');
      h.clock.advance(100_000);
      const refreshed = await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      assert.equal(refreshed.status, 200);
      await h.tk.events.settled();
    });
    after(async () => h.close());

    test('/v1/connections/:id/events: snake_case keys and ISO 8601 times', async () => {
      const response = await h.api('GET', `/v1/connections/${id}/events`);
      assert.equal(response.status, 200);
      const events = response.body.data as Array<{ type: string; data: Record<string, unknown> }>;
      assert.deepEqual(camelKeys(events), []);
      const created = events.find((event) => event.type === 'connection.created')!;
      assert.equal(created.data.owner_id, 'events-user');
      assert.equal(created.data.provider, 'sandbox');
      assert.equal(created.data.kind, 'user');
      assert.ok('account_id' in created.data);
      const refreshed = events.find((event) => event.type === 'token.refreshed')!;
      assert.match(String(refreshed.data.expires_at), ISO);
      assert.ok(Date.parse(String(refreshed.data.expires_at)) > h.clock.now(), 'the new expiry is in the future');
      assert.equal(typeof refreshed.data.duration_ms, 'number');
      assert.equal(refreshed.data.trigger, 'request');
      assert.equal(refreshed.data.rotated, true);
    });

    test('events stored in the old shape (camelCase, epoch milliseconds) are shown in the new one', async () => {
      const expiresAt = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
      await appendEvent(h.tk.database.db, {
        type: 'token.refreshed',
        connectionId: id,
        integrationKey: 'sandbox',
        data: { provider: 'sandbox', ownerId: 'events-user', durationMs: 12, rotated: false, expiresAt, trigger: 'sweep' },
        createdAt: h.clock.now(),
      });
      await appendEvent(h.tk.database.db, {
        type: 'connection.refresh_token_lost',
        connectionId: id,
        integrationKey: 'sandbox',
        data: { provider: 'sandbox', ownerId: 'events-user', reason: 'crashed', interruptedAt: expiresAt },
        createdAt: h.clock.now(),
      });
      const response = await h.api('GET', `/v1/connections/${id}/events?limit=2`);
      const [lost, refreshed] = response.body.data as Array<{ data: Record<string, unknown> }>;
      assert.deepEqual(refreshed!.data, { provider: 'sandbox', owner_id: 'events-user', duration_ms: 12, rotated: false, expires_at: '2030-01-02T03:04:05.678Z', trigger: 'sweep' });
      assert.deepEqual(lost!.data, { provider: 'sandbox', owner_id: 'events-user', reason: 'crashed', interrupted_at: '2030-01-02T03:04:05.678Z' });
    });

    test('the logs carry each lifecycle event in the same shape', () => {
      const lines = h.logger.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'connection event');
      const refreshed = lines.find((entry) => entry.event === 'token.refreshed' && entry.connection_id === id);
      assert.ok(refreshed, h.logger.lines.join(''));
      assert.equal(refreshed.integration, 'sandbox');
      assert.match(String(refreshed.expires_at), ISO);
      assert.equal(typeof refreshed.duration_ms, 'number');
      assert.ok(lines.some((entry) => entry.event === 'connection.created' && entry.connection_id === id && entry.owner_id === 'events-user'));
      assert.deepEqual(camelKeys(lines), []);
    });
  });
}
