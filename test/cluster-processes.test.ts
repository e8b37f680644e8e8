import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import { KeyRing } from '../src/crypto/index.ts';
import { findConnection, updateConnectionFenced } from '../src/store/index.ts';
import { spawnNode, startCluster, stopAllNodes, waitReady, type ClusterNode } from './helpers/cluster.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { refreshTokenWorks } from './helpers/sandbox-refresh.ts';
import { freshPostgresSchema, testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

// The cluster shape with real processes: several `tokenkeeper serve` on one PostgreSQL schema,
// talking to the test's sandbox provider, stopped with real signals. These assert what a
// user of a cluster would see (one refresh per connection at the provider, no stale answers
// after a change through another instance), not how the processes coordinate.

const skip = testDialects().includes('postgres') ? false : 'needs TEST_DATABASE_URL';
/** The sandbox's access tokens live 120 s (the harness's setting). */
const LIFETIME_MS = 120_000;

interface TokenAnswer {
  status: number;
  body: any;
  /** When the request was sent (wall clock), to judge what the answer may still contain. */
  sentAt: number;
  node: string;
}

async function call(node: ClusterNode, apiKey: string, method: string, path: string, body?: unknown): Promise<TokenAnswer> {
  const sentAt = Date.now();
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, sentAt, node: node.name };
}

function getToken(node: ClusterNode, apiKey: string, id: string, minValiditySeconds?: number): Promise<TokenAnswer> {
  const query = minValiditySeconds === undefined ? '' : `?min_validity=${minValiditySeconds}`;
  return call(node, apiKey, 'GET', `/v1/connections/${id}/token${query}`);
}

/** Runs `task` over `items` with at most `limit` in flight (so thousands of requests do not open thousands of sockets). */
async function inPool<T, R>(items: T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Connects `count` accounts through the real OAuth flow, a few at a time. */
async function connectMany(h: Harness, prefix: string, count: number): Promise<string[]> {
  h.clock.set(Date.now());
  return inPool(
    Array.from({ length: count }, (_, index) => index),
    8,
    (index) => h.connect(`${prefix}-owner-${index}`, `${prefix}-${index}`),
  );
}

/** Makes the stored token of each connection expire `leftMs` from now (wall clock), from a 120 s lifetime. */
async function expireIn(h: Harness, ids: string[], leftMs: number): Promise<void> {
  for (const id of ids) {
    for (;;) {
      const row = (await findConnection(h.tk.database.db, id))!;
      const now = Date.now();
      if (await updateConnectionFenced(h.tk.database.db, id, row.version, { issuedAt: now + leftMs - LIFETIME_MS, expiresAt: now + leftMs, updatedAt: now })) break;
    }
    h.tk.tokens.forget(id);
  }
}

/** Whether the sandbox's demo API accepts the access token: its grant is alive and it has not expired. */
async function sandboxAccepts(h: Harness, accessToken: string): Promise<boolean> {
  const response = await fetch(`${h.sandbox.url}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status === 200;
}

function refreshCalls(h: Harness): number {
  return h.sandbox.stats().byGrantType.refresh_token ?? 0;
}

function describeFailures(answers: TokenAnswer[]): string {
  return answers
    .slice(0, 5)
    .map((answer) => `${answer.node}: ${answer.status} ${JSON.stringify(answer.body)}`)
    .join('\n');
}

/**
 * Polls `read` on every node for `forMs` after `changedAt` (when the change's request returned)
 * and checks that no answer to a request sent more than one second after the change is stale
 * (invariant 10). Returns every answer, for more checks.
 */
async function watchAfterChange(nodes: ClusterNode[], changedAt: number, read: (node: ClusterNode) => Promise<TokenAnswer>, isStale: (answer: TokenAnswer) => boolean): Promise<TokenAnswer[]> {
  const answers: TokenAnswer[] = [];
  await Promise.all(
    nodes.map(async (node) => {
      while (Date.now() < changedAt + 1_600) {
        answers.push(await read(node));
        await sleep(50);
      }
    }),
  );
  const late = answers.filter((answer) => answer.sentAt > changedAt + 1_000);
  for (const node of nodes) assert.ok(late.some((answer) => answer.node === node.name), `${node.name} was asked after the second had passed`);
  const stale = late.filter(isStale);
  assert.deepEqual(stale.map((answer) => `${answer.node} ${answer.sentAt - changedAt} ms after: ${answer.status} ${JSON.stringify(answer.body)}`), [], 'stale answers more than one second after the change');
  return answers;
}

describe('a cluster of four serve processes on one PostgreSQL', { skip }, () => {
  let h: Harness;
  let nodes: ClusterNode[];
  before(async () => {
    h = await startHarness({ dialect: 'postgres' });
    nodes = await startCluster(4, { name: 'tk', databaseUrl: h.databaseUrl!, encryptionKeys: h.encryptionKeys });
  });
  afterEach(() => h.sandbox.resetFaults());
  after(async () => {
    await stopAllNodes();
    await h?.close();
  });

  test('2,000 concurrent token requests for 50 expiring connections across 4 processes: one refresh per connection, every token valid for its min_validity, no grant revoked', async () => {
    const ids = await connectMany(h, 'burst', 50);
    const before = new Map(await Promise.all(ids.map(async (id) => [id, (await findConnection(h.tk.database.db, id))!] as const)));
    await expireIn(h, ids, 30_000);
    h.sandbox.resetStats();

    const minValidities = [45, 60, 90, 10];
    const requests = Array.from({ length: 2_000 }, (_, index) => ({
      node: nodes[index % nodes.length]!,
      id: ids[Math.floor(index / nodes.length) % ids.length]!,
      // Every connection is asked for each min_validity over the run, and most need a refresh at first.
      minValidity: minValidities[(Math.floor(index / nodes.length) + Math.floor(index / (nodes.length * ids.length))) % minValidities.length]!,
    }));
    const answers = await inPool(requests, 200, async (request) => ({ ...request, answer: await getToken(request.node, h.apiKey, request.id, request.minValidity) }));

    const failed = answers.filter(({ answer }) => answer.status !== 200).map(({ answer }) => answer);
    const codes = Object.groupBy(failed, (answer) => String(answer.body?.error?.code));
    const tally = Object.entries(codes).map(([code, list]) => `${code}: ${list!.length}`).join(', ');
    assert.equal(failed.length, 0, `${failed.length} of 2000 requests failed (${tally}; sandbox ${JSON.stringify(h.sandbox.stats())}), e.g.\n${describeFailures(failed)}`);
    const tooShort = answers.filter(({ answer, minValidity }) => Date.parse(answer.body.expires_at) - answer.sentAt < minValidity * 1000);
    assert.deepEqual(tooShort.map(({ answer, minValidity }) => `${answer.node} min_validity=${minValidity} expires_at=${answer.body.expires_at}`), [], 'tokens valid for less than the min_validity asked');
    for (const { answer, id } of answers) assert.equal(answer.body.connection_id, id);

    assert.equal(refreshCalls(h), ids.length, `refresh calls at the provider for ${ids.length} connections: ${JSON.stringify(h.sandbox.stats())}`);
    for (const id of ids) {
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'active', `${id}: ${row.statusReason}`);
      assert.notEqual(row.tokensSealed, before.get(id)!.tokensSealed, `${id} was refreshed`);
      assert.equal(row.leaseOwner, null);
    }
    // Reuse detection at the sandbox revokes the whole grant, and with it every access token of it.
    const distinct = [...new Set(answers.map(({ answer }) => answer.body.access_token as string))];
    const refused = (await inPool(distinct, 20, async (token) => ((await sandboxAccepts(h, token)) ? null : token))).filter((token) => token !== null);
    assert.equal(refused.length, 0, `${refused.length} of ${distinct.length} tokens handed out are refused by the provider`);
  });

  test('a refresh through one instance: the others serve the new token, not the old one, within one second', async () => {
    const [id] = await connectMany(h, 'coherent', 1);
    const warm = await Promise.all(nodes.map((node) => getToken(node, h.apiKey, id!)));
    assert.deepEqual(warm.map((answer) => answer.status), [200, 200, 200, 200], describeFailures(warm));
    const oldToken = warm[0]!.body.access_token as string;
    assert.ok(warm.every((answer) => answer.body.access_token === oldToken));

    const refreshed = await call(nodes[0]!, h.apiKey, 'POST', `/v1/connections/${id}/refresh`);
    const changedAt = Date.now();
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const newToken = refreshed.body.access_token as string;
    assert.notEqual(newToken, oldToken);

    const answers = await watchAfterChange(nodes.slice(1), changedAt, (node) => getToken(node, h.apiKey, id!), (answer) => answer.status !== 200 || answer.body.access_token !== newToken);
    assert.ok(answers.every((answer) => answer.status === 200 && [oldToken, newToken].includes(answer.body.access_token)), describeFailures(answers.filter((answer) => answer.status !== 200)));
  });

  test('a connection deleted through one instance is refused by the others within one second', async () => {
    const [id] = await connectMany(h, 'deleted', 1);
    const warm = await Promise.all(nodes.map((node) => getToken(node, h.apiKey, id!)));
    assert.ok(warm.every((answer) => answer.status === 200), describeFailures(warm));

    const deleted = await call(nodes[0]!, h.apiKey, 'DELETE', `/v1/connections/${id}`);
    const changedAt = Date.now();
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    await watchAfterChange(nodes.slice(1), changedAt, (node) => getToken(node, h.apiKey, id!), (answer) => answer.status !== 404 || answer.body.error?.code !== 'connection_not_found');
  });

  test('an API key revoked through one instance is refused by the others within one second', async () => {
    const created = await call(nodes[0]!, h.apiKey, 'POST', '/v1/api-keys', { name: 'short-lived' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const key = created.body.key as string;
    const warm = await Promise.all(nodes.map((node) => call(node, key, 'GET', '/v1/integrations')));
    assert.ok(warm.every((answer) => answer.status === 200), describeFailures(warm));

    const revoked = await call(nodes[0]!, h.apiKey, 'DELETE', `/v1/api-keys/${created.body.id}`);
    const changedAt = Date.now();
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await watchAfterChange(nodes.slice(1), changedAt, (node) => call(node, key, 'GET', '/v1/integrations'), (answer) => answer.status !== 401);
  });

  test('an integration disabled through one instance stops handing out tokens on the others within one second', async () => {
    const [id] = await connectMany(h, 'disabled', 1);
    const warm = await Promise.all(nodes.map((node) => getToken(node, h.apiKey, id!)));
    assert.ok(warm.every((answer) => answer.status === 200), describeFailures(warm));
    try {
      const disabled = await call(nodes[0]!, h.apiKey, 'PATCH', '/v1/integrations/sandbox', { enabled: false });
      const changedAt = Date.now();
      assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
      await watchAfterChange(nodes.slice(1), changedAt, (node) => getToken(node, h.apiKey, id!), (answer) => answer.body?.error?.code !== 'integration_disabled');
    } finally {
      const enabled = await call(nodes[0]!, h.apiKey, 'PATCH', '/v1/integrations/sandbox', { enabled: true });
      assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    }
  });

  test('kill -9 of a process holding refresh leases: the others complete those refreshes once the leases lapse; nothing lost, nothing refreshed twice', async () => {
    const ids = await connectMany(h, 'killed', 6);
    const before = new Map(await Promise.all(ids.map(async (id) => [id, (await findConnection(h.tk.database.db, id))!] as const)));
    await expireIn(h, ids, 30_000);
    // A short lease of the victim's own, so the others need not wait the default 30 s for it to lapse.
    const victim = await spawnNode({
      name: 'victim',
      databaseUrl: h.databaseUrl!,
      encryptionKeys: h.encryptionKeys,
      env: { TOKENKEEPER_LEASE_MS: '5000', TOKENKEEPER_REFRESH_TIMEOUT_MS: '3000' },
    });
    await waitReady(victim);

    // The provider's gateway holds the token requests, then fails them: the requests never
    // reach the authorization server, so the refresh tokens they carry are not consumed.
    const latencyMs = 2_500;
    h.sandbox.resetStats();
    h.sandbox.setFaults({ latencyMs, errorRate5xx: 1 });
    const doomed = ids.map((id) => getToken(victim, h.apiKey, id, 60).catch(() => null));
    await until(() => refreshCalls(h) >= ids.length, `the victim's refreshes to reach the sandbox\n${victim.output()}`);
    const arrivedAt = Date.now();
    for (const id of ids) {
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.ok(row.leaseOwner !== null && (row.leaseUntil ?? 0) > Date.now(), `the victim holds the lease of ${id}`);
    }
    await victim.kill();
    await Promise.all(doomed);
    // The held requests are answered (into closed sockets) with the 5xx; only then do the switches go back.
    await sleep(Math.max(0, arrivedAt + latencyMs + 700 - Date.now()));
    h.sandbox.resetFaults();
    h.sandbox.resetStats();

    const requests = ids.flatMap((id) => nodes.map((node) => ({ id, node })));
    const answers = await inPool(requests, 50, async ({ id, node }) => ({ id, answer: await getToken(node, h.apiKey, id, 60) }));
    const failed = answers.filter(({ answer }) => answer.status !== 200).map(({ answer }) => answer);
    assert.equal(failed.length, 0, `${failed.length} of ${answers.length} requests failed, e.g.\n${describeFailures(failed)}`);
    for (const { answer } of answers) assert.ok(Date.parse(answer.body.expires_at) - answer.sentAt >= 60_000, `valid for 60 s: ${JSON.stringify(answer.body)}`);
    assert.equal(refreshCalls(h), ids.length, `one refresh per connection after the lapse: ${JSON.stringify(h.sandbox.stats())}`);

    for (const id of ids) {
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'active', `${id}: ${row.lastErrorCode} ${row.statusReason}`);
      assert.notEqual(row.tokensSealed, before.get(id)!.tokensSealed);
      assert.equal(row.leaseOwner, null);
      assert.equal(row.unansweredRefreshAt, null, 'the refresh the victim left unanswered was settled');
      const tokens = h.tk.tokens.peekTokens(row)!;
      assert.ok(await sandboxAccepts(h, tokens.access_token), `${id}: the stored access token works`);
      // The stored refresh token is the live end of the chain (using it here rotates it: last check).
      assert.ok(await refreshTokenWorks(h, tokens.refresh_token!), `${id}: the stored refresh token works`);
    }
  });
});

describe('the refresh sweep on a cluster of four serve processes', { skip }, () => {
  const INTERVAL_S = 5;
  let h: Harness;
  let nodes: ClusterNode[] = [];
  before(async () => {
    h = await startHarness({ dialect: 'postgres' });
  });
  after(async () => {
    await stopAllNodes();
    await h?.close();
  });

  test('each due connection is refreshed once per due period, and each tick runs on one process', async () => {
    const ids = await connectMany(h, 'sweep', 16);
    await expireIn(h, ids, 30_000);
    h.sandbox.resetStats();
    nodes = await startCluster(4, { name: 'sweeper', databaseUrl: h.databaseUrl!, encryptionKeys: h.encryptionKeys, sweepIntervalSeconds: INTERVAL_S });

    const refreshEvents = async (id: string): Promise<{ trigger: string }[]> => {
      const events = await h.api('GET', `/v1/connections/${id}/events?limit=100`);
      return events.body.data.filter((event: { type: string }) => event.type === 'token.refreshed').map((event: { data: { trigger: string } }) => event.data);
    };
    const allOutputs = (): string => nodes.map((node) => `--- ${node.name}\n${node.output()}`).join('\n');

    // First due period: the connections were due when the processes started.
    await until(async () => (await Promise.all(ids.map(refreshEvents))).every((events) => events.length >= 1), `the sweep to refresh all\n${allOutputs()}`, 30_000);
    // Another tick or two on every process: nothing is refreshed again.
    await sleep(INTERVAL_S * 1000 + 1_000);
    assert.equal(refreshCalls(h), ids.length, `refresh calls in the first period: ${JSON.stringify(h.sandbox.stats())}`);

    // Second due period.
    await expireIn(h, ids, 30_000);
    await until(async () => (await Promise.all(ids.map(refreshEvents))).every((events) => events.length >= 2), `the sweep to refresh all again\n${allOutputs()}`, 30_000);
    await sleep(INTERVAL_S * 1000 + 1_000);
    assert.equal(refreshCalls(h), 2 * ids.length, `refresh calls over two periods: ${JSON.stringify(h.sandbox.stats())}`);

    for (const id of ids) {
      const events = await refreshEvents(id);
      assert.deepEqual(events.map((event) => event.trigger), ['sweep', 'sweep'], `${id}: refreshed once per period, by the sweep`);
      const row = (await findConnection(h.tk.database.db, id))!;
      assert.equal(row.status, 'active');
      assert.ok(await refreshTokenWorks(h, h.tk.tokens.peekTokens(row)!.refresh_token!), `${id}: the stored refresh token is live`);
    }

    // Every process ticks every interval; one run per interval happens cluster-wide.
    const runs = nodes
      .flatMap((node) =>
        node
          .logLines('job finished')
          .filter((line) => line.job === 'refresh')
          .map((line) => ({ node: node.name, startedAt: Date.parse(String(line.time)) - Number(line.duration_ms) })),
      )
      .sort((a, b) => a.startedAt - b.startedAt);
    assert.ok(runs.length >= 3, `sweep runs: ${JSON.stringify(runs)}`);
    for (let index = 1; index < runs.length; index++) {
      const gap = runs[index]!.startedAt - runs[index - 1]!.startedAt;
      // The claim itself allows runs no closer than the interval less 500 ms, but these start times
      // come from log lines (finish time less duration), which a loaded machine delays by hundreds
      // of milliseconds after the claim. Two runs of one tick would start milliseconds apart, so
      // half an interval tells them apart from consecutive ticks whatever the load.
      assert.ok(gap >= (INTERVAL_S * 1000) / 2, `two sweep runs ${gap} ms apart, within one interval: ${JSON.stringify(runs)}`);
    }
  });
});

interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

describe('two serve processes starting together on an empty database', { skip }, () => {
  let schema: Awaited<ReturnType<typeof freshPostgresSchema>> | undefined;
  after(async () => {
    await stopAllNodes();
    await schema?.drop();
  });

  test('one applies the migrations, both start', async () => {
    schema = await freshPostgresSchema();
    const encryptionKeys = KeyRing.generateKeySpec('k1');
    const pair = await Promise.all([1, 2].map((index) => spawnNode({ name: `twin-${index}`, databaseUrl: schema!.url, encryptionKeys })));
    await Promise.all(pair.map((node) => waitReady(node)));

    const pg = createRequire(import.meta.url)('pg') as { Client: new (config: { connectionString: string }) => PgClient };
    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    let names: string[];
    try {
      names = (await client.query('select name from tokenkeeper_migrations order by name')).rows.map((row) => String(row.name));
    } finally {
      await client.end();
    }
    const expected = readdirSync(new URL('../src/store/migrations/', import.meta.url))
      .filter((file) => /^\d{4}-.*\.ts$/.test(file))
      .map((file) => file.replace(/\.ts$/, ''))
      .sort();
    assert.deepEqual(names, expected, 'each migration recorded once');
    const appliers = pair.filter((node) => node.logLines('database migrated').length > 0);
    assert.equal(appliers.length, 1, pair.map((node) => `--- ${node.name}\n${node.output()}`).join('\n'));
    assert.deepEqual(appliers[0]!.logLines('database migrated')[0]!.applied, expected);
  });
});
