/**
 * The proxy's "a 401 costs one refresh" across instances: two real `tokenkeeper serve` processes
 * on one PostgreSQL schema, both holding the same access token, both told by the sandbox's demo
 * API that it is refused. Within one process the renewals share one refresh (test/proxy.test.ts);
 * across processes only the database can say that the other instance has already replaced the
 * refused token, so the refresh checks it before the lease, under it, and after waiting for a
 * holder (src/tokens/refused-token.ts).
 *
 * The interleavings that used to cost a second refresh last a few milliseconds. The far instance
 * reaches PostgreSQL through a relay in this file that can hold, untouched, one statement or the
 * notifications on their way, which makes each interleaving certain instead of lucky.
 */
import assert from 'node:assert/strict';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { spawnServeBeside } from './helpers/cluster.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { cleanUpServes, type ServeProcess } from './helpers/serve-process.ts';
import { testDialects } from './helpers/test-database.ts';

const skip = testDialects().includes('postgres') ? false : 'needs TEST_DATABASE_URL';

/** Proxied calls per instance in a burst. */
const CALLS = 20;
/** The statement that takes a refresh lease (store/connections-table.ts `tryAcquireLease`), as Kysely writes it. */
const LEASE_STATEMENT = '"lease_until" is null or "lease_until" <';

interface ProxyAnswer {
  instance: string;
  status: number;
  attempts: string | null;
  body: string;
}

async function proxied(serve: ServeProcess, apiKey: string, id: string): Promise<ProxyAnswer> {
  const response = await fetch(`${serve.url}/v1/proxy/${id}/items?page_size=1`, { headers: { authorization: `Bearer ${apiKey}` } });
  return { instance: serve.name, status: response.status, attempts: response.headers.get('tokenkeeper-proxy-attempts'), body: await response.text() };
}

function burst(serve: ServeProcess, apiKey: string, id: string): Promise<ProxyAnswer[]> {
  return Promise.all(Array.from({ length: CALLS }, () => proxied(serve, apiKey, id)));
}

function refreshGrants(h: Harness): number {
  return h.sandbox.stats().byGrantType.refresh_token ?? 0;
}

/** Every call succeeded, and the instance did see the 401 and retried (else the race was not run). */
function assertRetriedAndSucceeded(answers: ProxyAnswer[], what: string): void {
  const failed = answers.filter((answer) => answer.status !== 200);
  assert.deepEqual(failed.slice(0, 3), [], `${what}: ${failed.length} of ${answers.length} calls failed`);
  assert.ok(answers.some((answer) => answer.attempts === '2'), `${what}: the instance saw the 401 and retried (${JSON.stringify(answers.map((answer) => answer.attempts))})`);
}

interface DatabaseGate {
  /** DATABASE_URL through the relay. */
  url: string;
  /**
   * Holds the next statement whose text contains `text` (and whatever follows it on its
   * connection) before it reaches PostgreSQL, until `release()`. Resolves once one is held.
   */
  holdNext(text: string): Promise<void>;
  /** Holds what PostgreSQL sends on the LISTEN connection (the invalidation channel), until `release()`. */
  holdNotifications(): void;
  /** Lets everything held go on, in order. */
  release(): void;
  close(): Promise<void>;
}

/** One direction of a relayed connection: passes bytes on at once, or queues them while held. */
class Lane {
  held = false;
  private readonly queue: Buffer[] = [];
  private readonly to: Socket;

  constructor(to: Socket) {
    this.to = to;
  }

  push(chunk: Buffer): void {
    if (this.held) this.queue.push(chunk);
    else this.to.write(chunk);
  }

  release(): void {
    this.held = false;
    for (const chunk of this.queue.splice(0)) this.to.write(chunk);
  }
}

/**
 * A TCP relay to PostgreSQL for one instance. Bytes pass unchanged and in order; the switches
 * only make some of them wait, as a slow network or a stalled process would.
 */
async function databaseGate(databaseUrl: string): Promise<DatabaseGate> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  const lanes: { toServer: Lane; toClient: Lane; listens: boolean }[] = [];
  let holdText: { text: string; held: () => void } | null = null;
  let notificationsHeld = false;

  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    sockets.add(client).add(upstream);
    const lane = { toServer: new Lane(upstream), toClient: new Lane(client), listens: false };
    lanes.push(lane);
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (text.includes('listen "')) {
        lane.listens = true;
        if (notificationsHeld) lane.toClient.held = true;
      }
      if (holdText && text.includes(holdText.text)) {
        lane.toServer.held = true;
        holdText.held();
        holdText = null;
      }
      lane.toServer.push(chunk);
    });
    upstream.on('data', (chunk: Buffer) => lane.toClient.push(chunk));
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    holdNext: (text) => new Promise<void>((resolve) => (holdText = { text, held: resolve })),
    holdNotifications: () => {
      notificationsHeld = true;
      for (const lane of lanes) if (lane.listens) lane.toClient.held = true;
    },
    release: () => {
      holdText = null;
      notificationsHeld = false;
      for (const lane of lanes) {
        lane.toServer.release();
        lane.toClient.release();
      }
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Rejects after `ms` with `what`: a bound on waiting for another process, not a speed check. */
function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what()}`)), ms)));
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

describe('proxy 401 across two instances on one PostgreSQL', { skip }, () => {
  let h: Harness;
  let gate: DatabaseGate;
  /** Talks to PostgreSQL directly. */
  let near: ServeProcess;
  /** Talks to PostgreSQL through `gate`. */
  let far: ServeProcess;

  before(async () => {
    h = await startHarness({ dialect: 'postgres' });
    gate = await databaseGate(h.databaseUrl!);
    near = await spawnServeBeside(h);
    far = await spawnServeBeside(h, { DATABASE_URL: gate.url });
    // Two processes starting on a loaded machine: a generous bound, not a speed check.
    await Promise.all([near, far].map((serve) => serve.waitForReady({ limitMs: 60_000 })));
  });

  afterEach(() => {
    gate.release();
    h.sandbox.resetFaults();
  });

  after(async () => {
    await cleanUpServes();
    await gate?.close();
    await h?.close();
  });

  /** A connection both instances hold the current token of (a proxied call through each succeeded with it). */
  async function connectedAndWarm(owner: string): Promise<{ id: string; accountId: string }> {
    // The serve processes run on the wall clock: the connection's expiry must be real.
    h.clock.set(Date.now());
    const id = await h.connect(owner, owner);
    const warm = await Promise.all([near, far].map((serve) => proxied(serve, h.apiKey, id)));
    assert.deepEqual(warm.map((answer) => answer.status), [200, 200], JSON.stringify(warm));
    const { record } = await h.tk.connections.get(id);
    return { id, accountId: record.accountId! };
  }

  async function refuseCurrentToken(accountId: string): Promise<void> {
    assert.ok((await h.sandbox.expireAccessTokens(accountId)) > 0, 'the sandbox dropped the access token');
    h.sandbox.resetStats();
  }

  test('both read the refused token, the far one takes the lease after the near one replaced it: the far one answers with that token, no second refresh', async () => {
    const { id, accountId } = await connectedAndWarm('lease-late');
    await refuseCurrentToken(accountId);

    // The far instance gets its 401s, reads the row (still the refused token, no lease) and sends
    // the lease statement, which waits in the relay ...
    const leaseHeld = gate.holdNext(LEASE_STATEMENT);
    const farAnswers = burst(far, h.apiKey, id);
    await within(leaseHeld, 20_000, () => `the far instance's lease statement\n${far.output()}`);
    // ... while the near instance gets its 401s, refreshes and lets the lease go.
    assertRetriedAndSucceeded(await burst(near, h.apiKey, id), 'near instance');
    assert.equal(refreshGrants(h), 1, 'the near instance refreshed');

    gate.release();
    assertRetriedAndSucceeded(await farAnswers, 'far instance');
    assert.equal(refreshGrants(h), 1, `one refresh at the provider (${JSON.stringify(h.sandbox.stats())})`);
  });

  test('the far instance hears of the near one\'s refresh late: its 401 for the replaced token takes the stored token, no second refresh', async () => {
    const { id, accountId } = await connectedAndWarm('heard-late');
    await refuseCurrentToken(accountId);

    // Caches may be up to a second behind another instance's commit (invariant 10): here the far
    // instance's invalidation is on its way while the near one refreshes.
    gate.holdNotifications();
    assertRetriedAndSucceeded(await burst(near, h.apiKey, id), 'near instance');
    assert.equal(refreshGrants(h), 1, 'the near instance refreshed');
    // The far instance still holds the refused token, sends it and is refused in turn.
    assertRetriedAndSucceeded(await burst(far, h.apiKey, id), 'far instance');
    gate.release();
    assert.equal(refreshGrants(h), 1, `one refresh at the provider (${JSON.stringify(h.sandbox.stats())})`);
  });

  test('a token refused at both instances at the same moment, round after round: one refresh each time', async () => {
    const { id, accountId } = await connectedAndWarm('same-moment');
    for (let round = 0; round < 4; round++) {
      // Every other round the token endpoint is slow, so one instance waits for the other's lease.
      h.sandbox.setFaults({ latencyMs: round % 2 === 0 ? 0 : 300 });
      const warm = await Promise.all([near, far].map((serve) => proxied(serve, h.apiKey, id)));
      assert.deepEqual(warm.map((answer) => answer.status), [200, 200], JSON.stringify(warm));
      await refuseCurrentToken(accountId);
      const [nearAnswers, farAnswers] = await Promise.all([burst(near, h.apiKey, id), burst(far, h.apiKey, id)]);
      assertRetriedAndSucceeded(nearAnswers, `round ${round}, near instance`);
      assertRetriedAndSucceeded(farAnswers, `round ${round}, far instance`);
      assert.equal(refreshGrants(h), 1, `round ${round}: one refresh at the provider (${JSON.stringify(h.sandbox.stats())})`);
    }
  });
});
