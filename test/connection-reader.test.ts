import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isTokenkeeperError } from '../src/errors.ts';
import { connectionReaderFor, findConnection } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

// Cache misses of one event-loop turn share one statement on PostgreSQL: every caller must still
// get its own connection, as fresh as a read of its own, and a missing one must not fail the rest.
for (const dialect of testDialects()) {
  describe(`cache misses read together, each answered alone (${dialect})`, () => {
    let h: Harness;
    const ids: string[] = [];
    before(async () => {
      h = await startHarness({ dialect });
      for (let i = 0; i < 4; i++) ids.push(await h.connect(`reader-${i}`, `reader${i}`));
    });
    after(() => h?.close());

    test('concurrent misses for different connections each get their own token; a deleted one gets connection_not_found', async () => {
      const gone = await h.connect('reader-gone', 'readergone');
      await h.tk.connections.delete(gone);
      const expected = new Map<string, string>();
      for (const id of ids) expected.set(id, (await h.tk.tokens.getToken(id)).accessToken);
      for (const id of [...ids, gone]) h.tk.tokens.forget(id);
      const asked = [...ids, ...ids, gone, ...ids.slice().reverse()];
      const results = await Promise.allSettled(asked.map((id) => h.tk.tokens.getToken(id)));
      results.forEach((result, index) => {
        const id = asked[index]!;
        if (id === gone) {
          assert.equal(result.status, 'rejected');
          assert.ok(isTokenkeeperError((result as PromiseRejectedResult).reason, 'connection_not_found'));
        } else {
          assert.equal(result.status, 'fulfilled', String((result as PromiseRejectedResult).reason));
          assert.equal((result as PromiseFulfilledResult<{ accessToken: string }>).value.accessToken, expected.get(id), `connection ${index} got its own token`);
        }
      });
    });

    test('the reader returns exactly the rows asked for, the same as one read each', async () => {
      const reader = connectionReaderFor(h.tk.database.db);
      const rows = await Promise.all([...ids, 'con_missing', ids[0]!].map((id) => reader.find(id)));
      for (const [index, id] of ids.entries()) assert.deepEqual(rows[index], await findConnection(h.tk.database.db, id));
      assert.equal(rows[ids.length], null);
      assert.deepEqual(rows[ids.length + 1], rows[0]);
    });
  });
}
