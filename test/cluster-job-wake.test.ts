import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createMemoryLogger } from '../src/logger.ts';
import { createTokenkeeper, type Tokenkeeper } from '../src/service.ts';
import { findConnection } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

// The cluster job layer (pg-boss on the test PostgreSQL): the instance that claims a tick and
// queues its jobs works them as soon as they may start, not at its workers' next poll.

const skip = testDialects().includes('postgres') ? false : 'needs TEST_DATABASE_URL';

describe('jobs queued by a tick on pg-boss', { skip }, () => {
  let h: Harness | undefined;
  const instances: Tokenkeeper[] = [];
  after(async () => {
    for (const tk of instances.splice(0)) await tk.close();
    await h?.close();
  });

  test('the instance that queued them starts them when they may start (their start delays spread over a second), not a minute later at its next poll', async () => {
    h = await startHarness({ dialect: 'postgres' });
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) ids.push(await h.connect(`wake-${index}`, `wake${index}`));
    // Its workers poll once a minute: only being woken makes them fetch sooner.
    const tk = await createTokenkeeper({
      config: h.config,
      clock: h.clock,
      logger: createMemoryLogger(),
      sweepJitterMs: 1_000,
      jobTuning: { pollingIntervalSeconds: 60 },
    });
    instances.push(tk);
    tk.startScheduler();
    // The workers run (and have found the queue empty): they sleep until their next poll.
    await tk.jobQueue!.startWorkers();
    const before = new Map(await Promise.all(ids.map(async (id) => [id, (await findConnection(h!.tk.database.db, id))!.tokensSealed] as const)));
    h.clock.advance(100_000); // 20 s left of 120 s: every connection is due
    h.sandbox.resetStats();

    const report = await tk.jobs.tick('refresh');
    assert.equal(report?.checked, ids.length, JSON.stringify(report));
    await until(
      async () => (await Promise.all(ids.map(async (id) => (await findConnection(h!.tk.database.db, id))!.tokensSealed !== before.get(id)))).every(Boolean),
      'every due connection refreshed by the instance that queued its job',
      30_000,
    );
    assert.equal(h.sandbox.stats().byGrantType.refresh_token, ids.length, 'one refresh per connection at the provider');
  });
});
