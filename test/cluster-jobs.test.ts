import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import type { Config } from '../src/config/index.ts';
import type { ClusterJobTuning, StoredJob } from '../src/jobs/index.ts';
import { createMemoryLogger } from '../src/logger.ts';
import { createTokenkeeper, type Tokenkeeper } from '../src/service.ts';
import { findConnection, updateConnectionFenced } from '../src/store/index.ts';
import { spawnServeBeside } from './helpers/cluster.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { cleanUpServes, type ServeProcess } from './helpers/serve-process.ts';
import { refreshTokenWorks } from './helpers/sandbox-refresh.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

// The cluster job layer (pg-boss on the test PostgreSQL): several Tokenkeeper instances on one
// schema, in this process and as real `tokenkeeper serve` processes, with the sandbox provider.
// What is asserted is what an operator would see: one refresh per due connection at the
// provider, jobs that survive the instance that took them, instances that take no job when told.

const skip = testDialects().includes('postgres') ? false : 'needs TEST_DATABASE_URL';
/** Short supervision and retry timings, so a dead instance's job is taken over within seconds. */
const FAST_JOBS: Partial<ClusterJobTuning> = { pollingIntervalSeconds: 0.5, superviseIntervalSeconds: 1, retryDelaySeconds: 1 };

const harnesses: Harness[] = [];
const instances: Tokenkeeper[] = [];
const children = new Set<ChildProcess>();
/** Each test's instances and harness stop with it (their workers would otherwise poll on). */
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  await cleanUpServes();
  for (const tk of instances.splice(0)) await tk.close();
  for (const h of harnesses.splice(0)) await h.close();
});

async function harness(): Promise<Harness> {
  const h = await startHarness({ dialect: 'postgres' });
  harnesses.push(h);
  return h;
}

/** Another instance on the harness's database (same keys and schema), with its own logger. */
async function instance(h: Harness, overrides: Partial<Config> = {}, clock: Harness['clock'] | null = h.clock) {
  const logger = createMemoryLogger();
  const tk = await createTokenkeeper({
    config: { ...h.config, ...overrides },
    ...(clock ? { clock } : {}),
    logger,
    sweepJitterMs: 0,
    jobTuning: FAST_JOBS,
    tokenTuning: { requestRetry: { attempts: 2, baseMs: 10, maxMs: 50 } },
  });
  instances.push(tk);
  return Object.assign(tk, { lines: logger.lines });
}

async function jobsOf(tk: Tokenkeeper, queue: string): Promise<StoredJob[]> {
  return tk.jobQueue!.jobs(queue);
}

const refreshCalls = (h: Harness): number => h.sandbox.stats().byGrantType.refresh_token ?? 0;

describe('scheduled work on pg-boss across instances', { skip }, () => {
  test('a tick is enumerated once across four instances; each due connection gets one job and one refresh, even when ticks overlap', async () => {
    const h = await harness();
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) ids.push(await h.connect(`fan-${index}`, `fan${index}`));
    const others = [await instance(h), await instance(h), await instance(h)];
    const all = [h.tk, ...others];
    const before = new Map(await Promise.all(ids.map(async (id) => [id, (await findConnection(h.tk.database.db, id))!] as const)));
    h.clock.advance(100_000); // 20 s left of 120 s: every connection is due
    h.sandbox.resetStats();

    const reports = await Promise.all(all.map((tk) => tk.jobs.tick('refresh')));
    const ran = reports.filter((report) => report !== null);
    assert.equal(ran.length, 1, `one instance claims the tick: ${JSON.stringify(reports)}`);
    assert.equal(ran[0]!.checked, ids.length);
    // One refresh job per connection, and one to keep the sandbox's system connection minted.
    assert.equal(ran[0]!.enqueued, ids.length + 1, JSON.stringify(ran[0]));
    assert.equal(refreshCalls(h), 0, 'the tick only enqueues; the workers refresh');

    // The next tick comes while the jobs are still queued: it finds the same connections due and queues none again.
    h.clock.advance(2_000);
    const overlapping = await others[1]!.jobs.tick('refresh');
    assert.equal(overlapping?.checked, ids.length);
    assert.equal(overlapping?.enqueued, 0, JSON.stringify(overlapping));

    for (const tk of all) tk.startScheduler();
    await until(
      async () => (await jobsOf(h.tk, 'refresh')).every((job) => job.state === 'completed') && (await jobsOf(h.tk, 'system-token')).every((job) => job.state === 'completed'),
      'every job to complete',
      30_000,
    );
    const jobs = await jobsOf(h.tk, 'refresh');
    assert.deepEqual(jobs.map((job) => job.key).sort(), [...ids].sort(), 'one job per connection');
    assert.ok(jobs.every((job) => (job.output as { outcome?: string }).outcome === 'refreshed'), JSON.stringify(jobs));
    assert.equal(refreshCalls(h), ids.length, `one refresh per connection at the provider: ${JSON.stringify(h.sandbox.stats())}`);
    for (const id of ids) {
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'active');
      assert.notEqual(row.tokensSealed, before.get(id)!.tokensSealed, `${id} has a new token set`);
    }
    // System-token upkeep went the same way: one system connection, minted once.
    assert.equal((await h.api('GET', '/v1/connections?kind=system')).body.data.length, 1);
    assert.equal(h.sandbox.stats().byGrantType.client_credentials, 1);
  });

  test('TOKENKEEPER_SCHEDULER=off: the instance starts no tick and takes no job', async () => {
    const h = await harness();
    const id = await h.connect('quiet-owner', 'quinn');
    const off = await instance(h, { scheduler: 'off', sweepIntervalSeconds: 5 });
    h.clock.advance(100_000);
    h.sandbox.resetStats();
    const report = await h.tk.jobs.tick('refresh'); // the harness's instance never works the queue
    assert.equal(report?.enqueued, 2, JSON.stringify(report));

    off.startScheduler();
    // Several of its would-be polls (every 0.5 s) and its would-be first tick (at once) go by.
    await sleep(2_500);
    assert.deepEqual((await jobsOf(h.tk, 'refresh')).map((job) => [job.key, job.state]), [[id, 'created']]);
    assert.equal(refreshCalls(h), 0);
    assert.deepEqual(off.lines.filter((line) => line.includes('job finished')), [], 'no tick ran on it');

    // The same job is taken as soon as an instance whose scheduler is on works the queue.
    h.tk.startScheduler();
    await until(async () => (await jobsOf(h.tk, 'refresh')).every((job) => job.state === 'completed'), 'the job to complete elsewhere');
    assert.equal(refreshCalls(h), 1);
  });

  test('kill -9 of the instance running a refresh job: another instance completes the job once the dead one is silent', async () => {
    const h = await harness();
    const id = await h.connect('dead-owner', 'dora');
    // The survivor runs on real time, as the killed process did (their leases are compared).
    const survivor = await instance(h, { leaseMs: 5_000, refreshTimeoutMs: 3_000 }, null);
    assert.ok(await survivor.connections.ensureSystemConnection('sandbox'), 'minted before, so the child asks the provider for nothing else');
    await makeDue(h, id);
    const before = (await findConnection(h.tk.database.db, id))!;
    h.sandbox.resetStats();
    // The child's refresh is held for 2 s, then answered 503 (into a closed socket): the provider
    // never rotates the refresh token for the dead process, so the next attempt can succeed.
    h.sandbox.setFaults({ latencyMs: 2_000, next5xxCount: 1 });

    assert.deepEqual(await jobsOf(survivor, 'refresh'), [], 'nothing queued yet (and the job layer is installed)');
    const serve = await startServe(h);
    await until(() => refreshCalls(h) >= 1, `the child's refresh job to reach the provider\n${serve.output()}`, 30_000);
    serve.child.kill('SIGKILL');
    await serve.exited;
    h.sandbox.setFaults({ latencyMs: 0 });
    const held = await jobsOf(survivor, 'refresh');
    assert.deepEqual(held.map((job) => [job.key, job.state]), [[id, 'active']], 'the dead process had taken the job');

    survivor.startScheduler();
    await until(
      async () => (await jobsOf(survivor, 'refresh')).some((job) => job.state === 'completed'),
      `the job to be completed by the survivor\n${survivor.lines.join('\n')}`,
      45_000,
    );
    const [job] = await jobsOf(survivor, 'refresh');
    assert.equal(job!.key, id);
    assert.ok(job!.retryCount >= 1, `a retry of the dead attempt: ${JSON.stringify(job)}`);
    assert.equal((job!.output as { outcome?: string }).outcome, 'refreshed', JSON.stringify(job));
    assert.equal(refreshCalls(h), 2, `the dead attempt and the survivor's: ${JSON.stringify(h.sandbox.stats())}`);
    const after = (await findConnection(h.tk.database.db, id))!;
    assert.equal(after.status, 'active');
    assert.notEqual(after.tokensSealed, before.tokensSealed, 'a new token set is stored');
    assert.equal(after.leaseOwner, null, 'no lease left behind');
    assert.equal(after.unansweredRefreshAt, null);
    assert.ok(await refreshTokenWorks(h, survivor.tokens.peekTokens(after)!.refresh_token!), 'the stored refresh token is the live one');
  });

  test('close() during a refresh job: the refresh is stored, its job completed, no pg-boss connection is left and the process ends by itself', async () => {
    const script = fileURLToPath(new URL('./fixtures/close-cluster-jobs.ts', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let code: number | null | undefined;
    child.on('close', (exitCode) => {
      code = exitCode;
      children.delete(child);
    });
    await until(() => code !== undefined, `the process to end by itself\n${output}`, 45_000);
    assert.equal(code, 0, output);
    assert.match(output, /^refresh stored: true$/m);
    assert.match(output, /^refresh job states: completed$/m);
    assert.match(output, /^job layer connections after close: 0$/m);
  });
});

/** Makes the connection due for the sweep (30 s left of a 120 s token), in wall-clock time. */
async function makeDue(h: Harness, id: string): Promise<void> {
  const row = (await findConnection(h.tk.database.db, id))!;
  const now = Date.now();
  assert.ok(await updateConnectionFenced(h.tk.database.db, id, row.version, { issuedAt: now - 90_000, expiresAt: now + 30_000, updatedAt: now }));
  h.tk.tokens.forget(id);
}

/** `tokenkeeper serve` on the harness's database, sweeping at once, with a 5 s lease. */
function startServe(h: Harness): Promise<ServeProcess> {
  return spawnServeBeside(h, {
    TOKENKEEPER_HOST: '127.0.0.1',
    TOKENKEEPER_SWEEP_INTERVAL: '5',
    TOKENKEEPER_LEASE_MS: '5000',
    TOKENKEEPER_REFRESH_TIMEOUT_MS: '3000',
    TOKENKEEPER_DB_POOL_SIZE: '3',
    TOKENKEEPER_LOG_LEVEL: 'debug',
  });
}
