import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { enqueueRefreshSweep, REFRESH_QUEUE, type JobQueue, type JobReport, type QueuedJob } from '../src/jobs/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

// The sweep's tick on the cluster job layer (pg-boss on the test PostgreSQL) while a backlog is
// worked: a connection stays due until its refresh commits, so each tick lists the connections
// of the ticks before it again. What it hands to the queue is counted at the queue's door: the
// real job layer behind a counter of the jobs it is offered.

const skip = testDialects().includes('postgres') ? false : 'needs TEST_DATABASE_URL';

/** The instance's job layer, counting the refresh jobs each tick offers it. */
function countingQueue(inner: JobQueue): JobQueue & { offered: string[][] } {
  const offered: string[][] = [];
  return {
    offered,
    enqueue: <Data extends object>(queue: string, jobs: QueuedJob<Data>[]) => {
      if (queue === REFRESH_QUEUE) offered.push(jobs.map((job) => job.key));
      return inner.enqueue(queue, jobs);
    },
    inFlight: (queue, keys) => inner.inFlight(queue, keys),
  };
}

describe('the sweep tick on pg-boss, while earlier ticks’ jobs are queued', { skip }, () => {
  let h: Harness | undefined;
  after(async () => {
    await h?.close();
  });

  test('offers a queue only the due connections without a job: none twice while queued or running, every new one at once, and again once their jobs are done', async () => {
    h = await startHarness({ dialect: 'postgres' });
    const ids: string[] = [];
    for (let index = 0; index < 4; index++) ids.push(await h.connect(`backlog-${index}`, `backlog${index}`));
    const queue = countingQueue(h.tk.jobQueue!);
    const tick = (): Promise<JobReport> => enqueueRefreshSweep({ db: h!.tk.database.db, clock: h!.clock, integrations: h!.tk.integrations, jitterMs: 0, queue });
    const offeredAt = (index: number): string[] => [...(queue.offered[index] ?? [])].sort();
    h.clock.advance(100_000); // 20 s left of 120 s: every connection is due

    const first = await tick();
    assert.equal(first.checked, ids.length);
    assert.deepEqual(offeredAt(0), [...ids].sort());
    assert.equal(first.enqueued, ids.length + 1, 'a job per connection, and one for the system connection');

    // No worker runs: the jobs are still queued at the next tick, which lists the same connections.
    h.clock.advance(5_000);
    const second = await tick();
    assert.equal(second.checked, ids.length);
    assert.equal(second.in_flight, ids.length, JSON.stringify(second));
    assert.deepEqual(offeredAt(1), [], 'nothing offered again while its job is queued');
    assert.equal(second.enqueued, 0);

    // A connection that comes due meanwhile is offered at the very next tick: nothing waits behind the backlog.
    const late = await h.connect('backlog-late', 'backlogLate');
    h.clock.advance(100_000);
    const third = await tick();
    assert.equal(third.checked, ids.length + 1);
    assert.deepEqual(offeredAt(2), [late]);
    assert.equal(third.in_flight, ids.length);

    // The workers refresh them all, once each; done jobs no longer count as in flight.
    h.sandbox.resetStats();
    await h.tk.jobQueue!.startWorkers();
    await until(async () => (await h!.tk.jobQueue!.jobs(REFRESH_QUEUE)).every((job) => job.state === 'completed'), 'every refresh job to complete', 30_000);
    assert.equal(h.sandbox.stats().byGrantType.refresh_token, ids.length + 1, 'one refresh per connection at the provider');
    h.clock.advance(100_000); // due again
    const again = await tick();
    assert.equal(again.in_flight, 0);
    // (With the system connection the system-token job minted meanwhile, due too.)
    for (const id of [...ids, late]) assert.ok(offeredAt(3).includes(id), `${id} offered again: ${JSON.stringify(again)}`);
  });
});
