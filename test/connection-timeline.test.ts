import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findConnection } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

// What alert rules and stuck-connection detection measure: since when a connection has been in
// its status, and since when its refreshes have been failing.
for (const dialect of testDialects()) {
  describe(`a connection's timeline (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h?.close());

    test('failing_since keeps the first failure of a run and clears with a success; status_changed_at moves only on a change of status', async () => {
      const id = await h.connect('timeline-1', 'timeline');
      const connectedAt = h.clock.now();
      const fresh = (await findConnection(h.tk.database.db, id))!;
      assert.equal(fresh.statusChangedAt, connectedAt);
      assert.equal(fresh.failingSince, null);

      h.clock.advance(70_000);
      h.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
      const firstFailureAt = h.clock.now();
      assert.equal((await h.api('GET', `/v1/connections/${id}/token?min_validity=60`)).status, 503);
      let row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.failingSince, firstFailureAt);
      assert.equal(row.statusChangedAt, connectedAt, 'one failure leaves the status as it was');

      h.clock.advance(row.nextAttemptAt! - h.clock.now() + 1);
      assert.equal((await h.api('GET', `/v1/connections/${id}/token?min_validity=60`)).status, 503);
      row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.failureCount, 2);
      assert.equal(row.failingSince, firstFailureAt, 'a later failure keeps the start of the run');

      h.sandbox.resetFaults();
      h.clock.advance(row.nextAttemptAt! - h.clock.now() + 1);
      assert.equal((await h.api('GET', `/v1/connections/${id}/token?min_validity=60`)).status, 200);
      row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.failingSince, null);

      // A permanent failure changes the status: the change is dated.
      await h.sandbox.revokeGrants();
      h.clock.advance(3_600_000);
      const revokedAt = h.clock.now();
      assert.equal((await h.api('GET', `/v1/connections/${id}/token?min_validity=60`)).status, 409);
      row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'needs_reauth');
      assert.equal(row.statusChangedAt, revokedAt);
    });
  });
}
