import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { systemClock, type Clock } from '../src/clock.ts';
import { isTokenkeeperError } from '../src/errors.ts';
import type { EventMap } from '../src/events.ts';
import { createTokenkeeper, type Tokenkeeper } from '../src/service.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

const TUNING = {
  requestRetry: { attempts: 2, baseMs: 10, maxMs: 50 },
  cooldown: { baseMs: 30_000, maxMs: 600_000 },
  circuit: { failureThreshold: 3, openMs: 30_000 },
};

/**
 * The cluster shape (invariant 8): several Tokenkeeper instances on one PostgreSQL schema stand
 * for several processes. An integration's rate limit, concurrency limit and circuit breaker are
 * one for all of them, not one each. The embedded SQLite shape is a single process and keeps them
 * in memory, so these run on PostgreSQL only.
 */
describe('outbound limits are shared by every instance on PostgreSQL', { skip: !testDialects().includes('postgres') && 'PostgreSQL only (TEST_DATABASE_URL)' }, () => {
  let h: Harness;
  let integrationId: string;
  const ids: string[] = [];
  const instances: Tokenkeeper[] = [];

  /** Another instance on the same database (its own pool, caches, limits in memory if any). */
  async function instance(clock: Clock = h.clock): Promise<Tokenkeeper> {
    const config = { ...h.config, database: { ...h.config.database, poolSize: 4 } };
    const tk = await createTokenkeeper({ config, clock, logger: h.logger, tokenTuning: TUNING });
    instances.push(tk);
    return tk;
  }

  async function closeAll(list: Tokenkeeper[]): Promise<void> {
    await Promise.all(list.map((tk) => tk.close()));
    for (const tk of list) instances.splice(instances.indexOf(tk), 1);
  }

  async function setRateLimit(rateLimit: { requestsPerMinute: number; concurrency: number; requestsPerSecond?: number }): Promise<void> {
    await h.tk.integrations.update('sandbox', { settings: { issuer: h.sandbox.issuer, rateLimit } });
  }

  /** Each instance force-refreshes its own share of the connections, all at once. */
  async function refreshFromAll(list: Tokenkeeper[]): Promise<PromiseSettledResult<unknown>[]> {
    return Promise.all(list.map((tk, n) => Promise.allSettled(ids.filter((_, i) => i % list.length === n).map((id) => tk.tokens.forceRefresh(id))))).then((all) => all.flat());
  }

  function codesOf(results: PromiseSettledResult<unknown>[]): string[] {
    return results.map((result) => (result.status === 'fulfilled' ? 'ok' : isTokenkeeperError(result.reason) ? result.reason.code : String(result.reason)));
  }

  before(async () => {
    h = await startHarness({ dialect: 'postgres', tokenTuning: TUNING });
    integrationId = (await h.tk.integrations.getByKey('sandbox')).id;
    for (let i = 0; i < 16; i++) ids.push(await h.connect(`shared-${i}`, `shared${i}`));
  });

  after(async () => {
    await Promise.all(instances.map((tk) => tk.close()));
    await h?.close();
  });

  test('four instances together send no more than the limit: no 429 from a provider that enforces it', async () => {
    // The sandbox answers 429 above 10 token requests a second. The integration allows 48 calls a
    // minute: a burst of at most 8 (a sixth of a minute's budget), then one every 1.25 s; the
    // provider's 2 to spare absorb travel-time jitter on a loaded machine. Each instance's first
    // call is its discovery (not a token request); alone, each would allow 7 token requests after
    // it: all 16 at once from four of them.
    await setRateLimit({ requestsPerMinute: 48, concurrency: 50 });
    // The sandbox counts its window in real time, so these instances run on the real clock.
    const cluster = await Promise.all([1, 2, 3, 4].map(() => instance(systemClock)));
    h.sandbox.setFaults({ rateLimitPerSecond: 10 });
    h.sandbox.resetStats();
    try {
      const codes = codesOf(await refreshFromAll(cluster));
      const stats = h.sandbox.stats();
      assert.equal(stats.rateLimited, 0, `no request was over the provider's limit: ${JSON.stringify(codes)}`);
      const ok = codes.filter((code) => code === 'ok').length;
      assert.ok(ok >= 1, `the burst went out: ${JSON.stringify(codes)}`);
      assert.deepEqual(new Set(codes.filter((code) => code !== 'ok')), new Set(['provider_unavailable']), 'the rest were held back without a provider call');
      assert.equal(stats.byGrantType.refresh_token, ok, 'one provider call per refresh that succeeded, none for the others');
    } finally {
      h.sandbox.resetFaults();
      await closeAll(cluster);
      // These instances stamped the shared bucket with real time; the manual clock catches up.
      h.clock.set(Math.max(h.clock.now(), Date.now()));
    }
  });

  test('requestsPerSecond paces the cluster for a provider that enforces its limit per second', async () => {
    // A minute's budget of 6,000 alone would let all 16 go at once (a bucket of 1,000); the
    // provider refuses above 8 a second. requestsPerSecond: 6 (set under the provider's
    // limit: a request's travel time, longer on a loaded machine, shifts it between the provider's
    // windows) paces the four instances together.
    await setRateLimit({ requestsPerMinute: 6_000, requestsPerSecond: 6, concurrency: 50 });
    const cluster = await Promise.all([1, 2, 3, 4].map(() => instance(systemClock)));
    await Promise.all(cluster.map((tk) => tk.integrations.resolveById(integrationId)));
    h.sandbox.setFaults({ rateLimitPerSecond: 8 });
    h.sandbox.resetStats();
    try {
      const codes = codesOf(await refreshFromAll(cluster));
      const stats = h.sandbox.stats();
      assert.equal(stats.rateLimited, 0, `no request was over the provider's per-second limit: ${JSON.stringify(codes)}`);
      const ok = codes.filter((code) => code === 'ok').length;
      assert.ok(ok >= 6, `paced calls went out rather than being refused (${JSON.stringify(codes)})`);
      assert.equal(stats.byGrantType.refresh_token, ok);
    } finally {
      h.sandbox.resetFaults();
      await closeAll(cluster);
      h.clock.set(Math.max(h.clock.now(), Date.now()));
    }
  });

  test('the concurrency limit holds across instances', async () => {
    await setRateLimit({ requestsPerMinute: 6_000, concurrency: 2 });
    // A quiet minute on the manual clock: the bucket is full again, so only the slots limit.
    h.clock.advance(60_000);
    const cluster = await Promise.all([1, 2, 3, 4].map(() => instance()));
    h.sandbox.setFaults({ latencyMs: 150 });
    h.sandbox.resetStats();
    try {
      const codes = codesOf(await refreshFromAll(cluster));
      assert.deepEqual(new Set(codes), new Set(['ok']), JSON.stringify(codes));
      const stats = h.sandbox.stats();
      assert.equal(stats.byGrantType.refresh_token, ids.length);
      assert.ok(stats.maxInFlight <= 2, `at most 2 token requests at the provider at once, cluster-wide (saw ${stats.maxInFlight})`);
    } finally {
      h.sandbox.resetFaults();
      await closeAll(cluster);
    }
  });

  test('a circuit opened by failures on one instance is open on another; one probe cluster-wide closes it', async () => {
    await setRateLimit({ requestsPerMinute: 6_000, concurrency: 50 });
    const a = h.tk;
    const b = await instance();
    // B has resolved the integration (discovery) before: its calls below are token requests only.
    await b.integrations.resolveById(integrationId);
    const seen: { on: string; name: string; payload: EventMap['circuit.opened'] | EventMap['circuit.closed'] }[] = [];
    const offs = [
      ...(['circuit.opened', 'circuit.closed'] as const).flatMap((name) => [
        a.events.on(name, (payload) => void seen.push({ on: 'a', name, payload })),
        b.events.on(name, (payload) => void seen.push({ on: 'b', name, payload })),
      ]),
    ];
    try {
      h.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
      // Three attempts of one refresh on A fail: the third opens the circuit.
      await assert.rejects(a.tokens.forceRefresh(ids[0]!), (error) => isTokenkeeperError(error) && error.code !== 'circuit_open');
      await a.tokens.guard.settled();
      await a.events.settled();
      assert.deepEqual(seen.map((event) => `${event.on}:${event.name}`), ['a:circuit.opened']);
      assert.equal(await b.tokens.circuitStatus(integrationId), 'open');

      h.sandbox.resetStats();
      await assert.rejects(b.tokens.forceRefresh(ids[1]!), { code: 'circuit_open' });
      assert.equal(h.sandbox.stats().tokenRequests, 0, 'B failed fast, without calling the provider');

      // The open period passes; the provider has recovered but answers slowly.
      h.sandbox.setFaults({ errorRate5xx: 0, latencyMs: 300 });
      h.clock.advance(TUNING.circuit.openMs + 1);
      assert.equal(await a.tokens.circuitStatus(integrationId), 'half_open');
      const probe = b.tokens.forceRefresh(ids[1]!);
      await until(() => h.sandbox.stats().tokenRequests === 1, 'the probe at the provider');
      await assert.rejects(a.tokens.forceRefresh(ids[2]!), { code: 'circuit_open' }, 'while B probes, A still fails fast');
      await probe;
      await Promise.all([a.tokens.guard.settled(), b.tokens.guard.settled()]);
      await Promise.all([a.events.settled(), b.events.settled()]);
      assert.deepEqual(seen.map((event) => `${event.on}:${event.name}`), ['a:circuit.opened', 'b:circuit.closed'], 'each transition announced once, by the instance that made it');
      assert.equal(await a.tokens.circuitStatus(integrationId), 'closed');
      await a.tokens.forceRefresh(ids[2]!);
      assert.equal(h.sandbox.stats().byGrantType.refresh_token, 2);
    } finally {
      for (const off of offs) off();
      h.sandbox.resetFaults();
      await closeAll([b]);
    }
  });

  test("a concurrency slot held by an instance that vanished mid-call is usable again after it lapses", async () => {
    await setRateLimit({ requestsPerMinute: 6_000, concurrency: 1 });
    // C takes the only slot, as a refresh about to call the provider would, and is gone without
    // giving it back (as after kill -9: nothing of C runs any more).
    const c = await instance();
    await c.tokens.guard.acquire(await c.integrations.resolveById(integrationId), 0);
    await closeAll([c]);

    h.sandbox.resetStats();
    let settled = false;
    const refused = h.api('POST', `/v1/connections/${ids[3]}/refresh`).finally(() => {
      settled = true;
    });
    // The wait for a slot is bounded on the service's clock: move it on until the caller gives up.
    while (!settled) {
      await sleep(50);
      h.clock.advance(500);
    }
    const response = await refused;
    assert.equal(response.status, 503, JSON.stringify(response.body));
    assert.equal(response.body.error.code, 'provider_unavailable');
    assert.equal(h.sandbox.stats().tokenRequests, 0, 'the slot C holds is still the one slot');

    // The slot lapses a bit after the longest guarded call: a proxied call, 30 s by default
    // (TOKENKEEPER_PROXY_TIMEOUT_MS), plus 5 s.
    h.clock.advance(35_000);
    const ok = await h.api('POST', `/v1/connections/${ids[3]}/refresh`);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(h.sandbox.stats().byGrantType.refresh_token, 1);
  });

  test('shared limits that cannot be read fail the call as storage_unavailable', async () => {
    const d = await instance();
    const integration = await d.integrations.resolveById(integrationId);
    await d.database.close();
    await assert.rejects(d.tokens.guard.acquire(integration, 0), { code: 'storage_unavailable' });
    await closeAll([d]);
  });

  test('a caller whose turn at the rate limit is further out than it will wait is refused at once, not after waiting in vain', async () => {
    // 6 a minute: a bucket of one, the next token 10 s after it is taken.
    await setRateLimit({ requestsPerMinute: 6, concurrency: 50 });
    const e = await instance();
    const integration = await e.integrations.resolveById(integrationId);
    // A quiet minute on the manual clock: the bucket is full again (its one token).
    h.clock.advance(60_000);
    const first = await e.tokens.guard.acquire(integration, 0);
    try {
      // The next turn is 10 s away on the service's clock, which does not move here: a caller
      // that waits up to 2 s for it can only be refused, and is, without sitting out its 2 s.
      const refused = e.tokens.guard.acquire(integration, 2_000).then(
        () => 'taken',
        (error: unknown) => (isTokenkeeperError(error) ? error.code : String(error)),
      );
      const answer = await Promise.race([refused, sleep(10_000).then(() => 'no answer while the clock stood still')]);
      assert.equal(answer, 'provider_unavailable');
    } finally {
      await first.release('not_sent');
      await closeAll([e]);
    }
  });
});
