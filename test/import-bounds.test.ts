import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isTokenkeeperError } from '../src/errors.ts';
import {
  findConnection,
  findConnectSessionByLink,
  insertConnectSession,
  insertConnection,
  MAX_TIME_MS,
  updateConnectionFenced,
  type ConnectionRecord,
} from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

/** `{"a":{"a":…1…}}`, `depth` objects deep, as raw JSON text (JSON.stringify itself overflows at ~5,000). */
function nestedJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

for (const dialect of testDialects()) {
  describe(`import refuses values it could not store or read back (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    async function rowCounts(): Promise<{ connections: number; events: number }> {
      // The event log is appended after a change commits (the bus's listener): an earlier
      // import's event may still be on its way, and must not count as written by this one.
      await h.tk.events.settled();
      const db = h.tk.database.db;
      const connections = await db.selectFrom('connections').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const events = await db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return { connections: Number(connections.n), events: Number(events.n) };
    }

    /** Posts an import (raw JSON text or an object) and expects a 400 naming `field`, with nothing written. */
    async function expectRefused(body: string | Record<string, unknown>, field: string, message: RegExp): Promise<void> {
      const before = await rowCounts();
      const payload = typeof body === 'string' ? body : JSON.stringify({ integration: 'sandbox', owner_id: 'bounds', access_token: 'a', ...body });
      const response = await h.api('POST', '/v1/connections', payload);
      assert.equal(response.status, 400, `${field}: ${JSON.stringify(response.body).slice(0, 300)}`);
      assert.equal(response.body.error.code, 'invalid_request');
      assert.ok(response.body.error.message.includes(field), response.body.error.message);
      assert.match(response.body.error.message, message);
      assert.deepEqual(await rowCounts(), before, 'nothing is written');
    }

    test('an expires_in or expires_at beyond year 9999 (or before 1970) is a 400 naming the field; listings keep working', async () => {
      await expectRefused({ expires_in: 1e13 }, 'expires_in', /expires_in must be/);
      await expectRefused({ expires_in: 1e300 }, 'expires_in', /expires_in must be/);
      await expectRefused({ expires_at: '+275760-09-13T00:00:00.000Z' }, 'expires_at', /expires_at must be/);
      await expectRefused({ expires_at: '+010000-01-01T00:00:00.000Z' }, 'expires_at', /expires_at must be/);
      await expectRefused({ expires_at: '1969-12-31T23:59:59.000Z' }, 'expires_at', /expires_at must be/);

      const list = await h.api('GET', '/v1/connections');
      assert.equal(list.status, 200, JSON.stringify(list.body));

      // The largest lifetime that still fits is taken, and reads back.
      const latest = await h.api('POST', '/v1/connections', {
        integration: 'sandbox', owner_id: 'bounds-ok', access_token: 'a', expires_at: '9999-12-31T23:59:59.000Z',
      });
      assert.equal(latest.status, 201, JSON.stringify(latest.body));
      assert.equal(latest.body.expires_at, '9999-12-31T23:59:59.000Z');
      assert.equal((await h.api('GET', `/v1/connections/${latest.body.id}`)).status, 200);
      assert.equal((await h.api('GET', '/v1/connections')).status, 200);
    });

    test('metadata nested 5,000 levels deep, or deeper than 8, is a 400 naming metadata, not a 500', async () => {
      const wrap = (metadata: string): string => `{"integration":"sandbox","owner_id":"deep","access_token":"a","metadata":${metadata}}`;
      await expectRefused(wrap(nestedJson(5_000)), 'metadata', /nested/);
      await expectRefused(wrap(nestedJson(9)), 'metadata', /nested/);
      await expectRefused(wrap(`{"list":${'['.repeat(9)}${']'.repeat(9)}}`), 'metadata', /nested/);

      const ok = await h.api('POST', '/v1/connections', wrap(nestedJson(8)));
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      assert.equal((await h.api('GET', `/v1/connections/${ok.body.id}`)).body.metadata.a.a.a.a.a.a.a.a, 1);
    });

    test('metadata over 8 KiB of JSON is a 400 naming metadata', async () => {
      await expectRefused({ metadata: { note: 'x'.repeat(9_000) } }, 'metadata', /at most 8 KiB/);
      // Counted in bytes: 3,000 three-byte characters are 9 KB on the wire.
      await expectRefused({ metadata: { note: '€'.repeat(3_000) } }, 'metadata', /at most 8 KiB/);
    });
  });
}

for (const dialect of testDialects()) {
  describe(`the connections table refuses a time it could not read back (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('insert and fenced update throw an internal error naming the column, and the row stays readable', async () => {
      const id = await (async () => {
        const response = await h.api('POST', '/v1/connections', { integration: 'sandbox', owner_id: 'guard', access_token: 'a', expires_in: 3600 });
        assert.equal(response.status, 201, JSON.stringify(response.body));
        return response.body.id as string;
      })();
      const record = (await findConnection(h.tk.database.db, id))!;
      const db = h.tk.database.db;

      const expectGuard = (error: unknown, column: string): boolean => {
        assert.ok(isTokenkeeperError(error, 'internal_error'), String(error));
        assert.match(String((error as Error).cause), new RegExp(`connections\\.${column} = `));
        return true;
      };
      const copy: ConnectionRecord = { ...record, id: 'con_bbbbbbbbbbbbbbbbbbbb', expiresAt: 1e16 };
      await assert.rejects(insertConnection(db, copy), (error) => expectGuard(error, 'expires_at'));
      await assert.rejects(insertConnection(db, { ...copy, expiresAt: 1, nextAttemptAt: MAX_TIME_MS + 1 }), (error) => expectGuard(error, 'next_attempt_at'));
      assert.equal(await findConnection(db, copy.id), null);

      await assert.rejects(updateConnectionFenced(db, id, record.version, { expiresAt: 2 ** 53 + 2 }), (error) => expectGuard(error, 'expires_at'));
      await assert.rejects(updateConnectionFenced(db, id, record.version, { lastRefreshAt: 1.5 }), (error) => expectGuard(error, 'last_refresh_at'));
      assert.deepEqual(await findConnection(db, id), record);
      assert.equal((await h.api('GET', '/v1/connections')).status, 200);
    });

    test('a connect session with an unreadable expiry is refused the same way', async () => {
      const db = h.tk.database.db;
      const integration = (await h.tk.integrations.findByKey('sandbox'))!;
      const now = h.clock.now();
      await assert.rejects(
        insertConnectSession(db, {
          id: 'cs_bbbbbbbbbbbbbbbbbbbb', integrationId: integration.id, ownerId: 'guard', kind: 'user', redirectTo: null,
          linkHash: 'link-hash-guard', stateHash: null, codeVerifierSealed: null, nonce: null,
          expiresAt: 1e16, openedAt: null, consumedAt: null, createdAt: now,
        }),
        (error) => isTokenkeeperError(error, 'internal_error') && /connect_sessions\.expires_at = /.test(String((error as Error).cause)),
      );
      assert.equal(await findConnectSessionByLink(db, 'link-hash-guard'), null);
    });
  });
}
