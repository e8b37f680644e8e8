import assert from 'node:assert/strict';
import { createServer, connect as connectTcp, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { findConnection } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { freshPostgresSchema, testDialects } from './helpers/test-database.ts';

/**
 * One round trip to PostgreSQL, as the wire shows it: a simple `Query` message, or an extended
 * query (`Parse`/`Bind`/`Execute`) ended by the `Sync` that makes the client wait for the answer.
 */
interface RoundTrip {
  /** The session's `application_name` ('' for the main pool). */
  application: string;
  text: string;
}

/**
 * A TCP relay in front of PostgreSQL that reads the frontend protocol (PostgreSQL docs, "Message
 * Formats") on its way through and records every round trip a client starts. It changes nothing:
 * the bytes go on as they came. Counting on the wire counts what costs time on a loaded machine —
 * each round trip is a wait for the server — whatever driver, pool or query builder made it.
 */
class RoundTripRecorder {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private recording: RoundTrip[] | null = null;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(target: { host: string; port: number }): Promise<RoundTripRecorder> {
    let recorder!: RoundTripRecorder;
    const server = createServer((client) => recorder.relay(client, target));
    recorder = new RoundTripRecorder(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return recorder;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Records the round trips `work` starts (and any other client's meanwhile: callers filter). */
  async record(work: () => Promise<void>): Promise<RoundTrip[]> {
    const trips: RoundTrip[] = [];
    this.recording = trips;
    try {
      await work();
    } finally {
      this.recording = null;
    }
    return trips;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private relay(client: Socket, target: { host: string; port: number }): void {
    const upstream = connectTcp(target.port, target.host);
    this.sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.on('data', (chunk) => client.write(chunk));
    let buffered = Buffer.alloc(0);
    let startup = true;
    let application = '';
    let parsed = '';
    client.on('data', (chunk) => {
      upstream.write(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (startup) {
          // Untyped: length, then a protocol code (an SSL request is answered and followed by the real one).
          if (buffered.length < 8) return;
          const length = buffered.readInt32BE(0);
          if (buffered.length < length) return;
          const code = buffered.readInt32BE(4);
          if (code !== 80877103) {
            const fields = buffered.subarray(8, length).toString('utf8').split('\0');
            for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'application_name') application = fields[i + 1]!;
            startup = false;
          }
          buffered = buffered.subarray(length);
          continue;
        }
        if (buffered.length < 5) return;
        const type = String.fromCharCode(buffered[0]!);
        const length = buffered.readInt32BE(1);
        if (buffered.length < 1 + length) return;
        const body = buffered.subarray(5, 1 + length);
        buffered = buffered.subarray(1 + length);
        if (type === 'P') {
          // Parse: statement name, then the query text.
          const nameEnd = body.indexOf(0);
          parsed = body.subarray(nameEnd + 1, body.indexOf(0, nameEnd + 1)).toString('utf8');
        } else if (type === 'Q') {
          this.recording?.push({ application, text: body.subarray(0, body.indexOf(0)).toString('utf8') });
        } else if (type === 'S') {
          this.recording?.push({ application, text: parsed });
          parsed = '';
        }
      }
    });
  }
}

/** The statement, shortened to what tells it apart in a report. */
function summary(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 140);
}

// What one refresh costs in round trips to PostgreSQL: on a machine whose cores PostgreSQL shares
// with the instances, each is expensive, and the sweep's throughput is bounded by their number.
//
// One refresh of a due connection, at most six:
//   1. the row (the sweep's first read; a request's cache miss is that read),
//   2. the lease (`UPDATE … RETURNING *`),
//   3. a turn at the shared rate limiter (shared-outbound-limits.ts),
//   4. the lease extended and the unanswered mark set, right before the call (refresh-runner.ts),
//   5. the permit given back (in the background),
//   6. the commit: the token set, the webhook outbox, the event log's `token.refreshed` and the
//      announcement to other instances, in one statement (change-feed.ts `writeRowAndNotify`).
// Before it was twelve: `begin`, the outbox insert, `pg_notify`, `commit` and the event log's
// insert were round trips of their own, and a request read the row it had just read again. Then
// seven: the alert rules read the alert table on every refresh, for failure alerts to resolve;
// now only when the instance's view of the firing alerts (read at most once a second, and by the
// `alert-rules` check) cannot rule one out for the connection.
const MAX_ROUND_TRIPS_PER_REFRESH = 6;

const postgres = testDialects().includes('postgres');
describe('round trips to PostgreSQL per refresh', { skip: postgres ? false : 'PostgreSQL only (TEST_DATABASE_URL)' }, () => {
  let h: Harness;
  let recorder: RoundTripRecorder;
  let dropSchema: () => Promise<void> = async () => undefined;

  before(async () => {
    const schema = await freshPostgresSchema();
    dropSchema = schema.drop;
    const url = new URL(schema.url);
    recorder = await RoundTripRecorder.start({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(recorder.port);
    h = await startHarness({ env: { DATABASE_URL: url.toString(), TOKENKEEPER_DB_STATEMENT_TIMEOUT_MS: '2000' } });
  });
  after(async () => {
    await h?.close();
    await recorder?.close();
    await dropSchema();
  });

  /**
   * The clock moved past the integration caches' one-second bound: check them now, as a busy
   * instance does about once a second per integration, not once per refresh.
   */
  async function integrationCachesChecked(id: string): Promise<void> {
    const { integrationId } = (await findConnection(h.tk.database.db, id))!;
    await h.tk.integrations.recordById(integrationId);
    await h.tk.integrations.resolveById(integrationId);
  }

  /**
   * The firing alerts were read less than a second ago, as on an instance that refreshed another
   * connection within the last second or ran the `alert-rules` check: read them now.
   */
  async function firingAlertsRead(): Promise<void> {
    await h.tk.alertRules.firingFailures.read();
  }

  /** The main pool's round trips while `work` runs and its background writes (event log, permit, alerts) land. */
  async function tripsOf(work: () => Promise<unknown>): Promise<string[]> {
    const trips = await recorder.record(async () => {
      await work();
      await h.tk.events.settled();
      await h.tk.tokens.guard.settled();
    });
    return trips.filter((trip) => trip.application === '').map((trip) => summary(trip.text));
  }

  async function refreshedEvent(id: string): Promise<Record<string, unknown>> {
    const events = await h.api('GET', `/v1/connections/${id}/events`);
    const refreshed = events.body.data.filter((event: { type: string }) => event.type === 'token.refreshed');
    assert.equal(refreshed.length, 1, JSON.stringify(events.body.data));
    return refreshed[0].data;
  }

  test('a sweep refresh of one due connection', async () => {
    const id = await h.connect('trips-sweep', 'sweepy');
    await h.tk.events.settled();
    h.clock.advance(100_000); // 20 s left of 120 s: due
    await integrationCachesChecked(id);
    await firingAlertsRead();
    const trips = await tripsOf(async () => assert.equal(await h.tk.tokens.refreshIfDue(id, 'sweep'), 'refreshed'));
    const report = `${trips.length} round trips:\n  ${trips.join('\n  ')}`;
    console.log(`sweep refresh: ${report}`);
    assert.ok(trips.length <= MAX_ROUND_TRIPS_PER_REFRESH, report);
    // The event log's row, written by the commit's statement, in the API's shape.
    const data = await refreshedEvent(id);
    assert.equal(data.trigger, 'sweep');
    assert.equal(data.rotated, true);
    assert.equal(typeof data.duration_ms, 'number');
    assert.equal(data.expires_at, new Date((await findConnection(h.tk.database.db, id))!.expiresAt!).toISOString());
  });

  test('a request for an expired token', async () => {
    const id = await h.connect('trips-request', 'requesty');
    await h.tk.tokens.getToken(id);
    await h.tk.events.settled();
    h.clock.advance(125_000); // expired
    await integrationCachesChecked(id);
    await firingAlertsRead();
    const trips = await tripsOf(async () => assert.ok((await h.tk.tokens.getToken(id)).expiresAt! > h.clock.now() + 100_000));
    const report = `${trips.length} round trips:\n  ${trips.join('\n  ')}`;
    console.log(`request refresh: ${report}`);
    assert.ok(trips.length <= MAX_ROUND_TRIPS_PER_REFRESH, report);
    assert.equal((await refreshedEvent(id)).trigger, 'request');
  });

  test('a refresh of a connection with a failure alert firing still reads and resolves it', async () => {
    const id = await h.connect('trips-alerted', 'alerty');
    await h.tk.events.settled();
    h.clock.advance(100_000);
    await integrationCachesChecked(id);
    await firingAlertsRead();
    // Raised on this instance after the read: the view learns of it as it is raised.
    await h.tk.alerts.raise({ type: 'connection_refresh_failing', key: id, severity: 'MEDIUM', labels: { integration: 'sandbox' }, summary: 'failing' });
    const trips = await tripsOf(async () => assert.equal(await h.tk.tokens.refreshIfDue(id, 'sweep'), 'refreshed'));
    console.log(`refresh with an alert firing: ${trips.length} round trips:\n  ${trips.join('\n  ')}`);
    assert.ok(trips.some((trip) => trip.startsWith('select "type" from "alerts"')), trips.join('\n'));
    assert.equal((await h.tk.alerts.get('connection_refresh_failing', id))?.state, 'resolved');
  });
});
