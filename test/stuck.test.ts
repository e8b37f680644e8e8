import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AlertChannel, GroupNotification } from '../src/alerts/index.ts';
import { CONNECTION_STUCK } from '../src/health/index.ts';
import { createTokenkeeper } from '../src/service.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

/**
 * Stuck-connection detection (issue 8, item 6) against the sandbox provider on the manual clock:
 * what `GET /v1/stuck` lists after each state's threshold, the `stuck` job's `connection_stuck`
 * alerts, re-notification no more often than every 6 h, and resolution once unstuck. Each test
 * leaves nothing stuck behind, so that the next one's alert group holds its own alert only.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A real in-process channel that keeps what it is sent, with the clock's time. */
class RecordingChannel implements AlertChannel {
  readonly name = 'recorder';
  readonly minSeverity = 'LOW' as const;
  readonly received: { at: number; notification: GroupNotification }[] = [];
  private readonly clock: { now(): number };
  constructor(clock: { now(): number }) {
    this.clock = clock;
  }
  async send(notification: GroupNotification): Promise<void> {
    this.received.push({ at: this.clock.now(), notification });
  }
  /** Notifications carrying the stuck alert of `key`, with its state in each. */
  about(key: string): { at: number; kind: string; state: string }[] {
    return this.received.flatMap(({ at, notification }) =>
      notification.alerts.filter((alert) => alert.type === CONNECTION_STUCK && alert.key === key).map((alert) => ({ at, kind: notification.kind, state: alert.state })),
    );
  }
}

for (const dialect of testDialects()) {
  describe(`stuck connections (${dialect})`, () => {
    let h: Harness;
    let channel: RecordingChannel;

    before(async () => {
      channel = new RecordingChannel({ now: () => h.clock.now() });
      // A breaker that never opens, so that every failure reaches the connection (degraded). Other
      // alerts repeat hourly here: a stuck connection still waits 6 h.
      h = await startHarness({
        dialect,
        alertChannels: [channel],
        env: { TOKENKEEPER_ALERT_REPEAT_INTERVAL: '1h' },
        tokenTuning: { circuit: { failureThreshold: 1_000, openMs: 30_000 } },
      });
      // The sandbox signs ID tokens on the real clock, and Tokenkeeper refuses one that expired by
      // its own: starting three days back, these tests' days of waiting stay behind the real time,
      // so connecting and refreshing keep working after them.
      h.clock.set(Date.now() - 72 * HOUR);
    });
    after(async () => h.close());

    /** The `stuck` job, then 5 minutes later (past group_wait and group_interval) the `notify` job, as the scheduler runs them. */
    async function checkAndNotify(): Promise<void> {
      await h.tk.jobs.run('stuck');
      h.clock.advance(5 * MINUTE);
      await h.tk.notifier.step();
    }

    async function stuckList(query = ''): Promise<any[]> {
      const response = await h.api('GET', `/v1/stuck${query}`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body.data;
    }

    test('a connect session left open for more than 30 minutes is stuck (LOW), until a newer session supersedes it', async () => {
      const created = await h.api('POST', '/v1/connect/sessions', { integration: 'sandbox', owner_id: 'sam' });
      assert.equal(created.status, 201);
      const sessionId: string = created.body.id;
      const opened = await h.http.app.inject({ method: 'GET', url: new URL(created.body.connect_url).pathname });
      assert.equal(opened.statusCode, 302, 'the user opened the link, then never came back');

      h.clock.advance(29 * MINUTE);
      assert.deepEqual(await stuckList(), [], 'not stuck before its threshold');
      h.clock.advance(2 * MINUTE);
      const [item, ...rest] = await stuckList();
      assert.deepEqual(rest, []);
      assert.equal(item.id, sessionId);
      assert.equal(item.state, 'connect_session');
      assert.equal(item.severity, 'LOW');
      assert.equal(item.terminal, false);
      assert.equal(item.connection_id, null);
      assert.equal(item.owner_id, 'sam');
      assert.equal(item.integration, 'sandbox');
      assert.equal(item.stuck_for_seconds, 31 * 60);
      assert.equal(item.threshold_seconds, 30 * 60);
      assert.equal(Date.parse(item.since), h.clock.now() - 31 * MINUTE);
      assert.match(item.action, /opened .* never came back/);
      assert.deepEqual(item.reconnect, { integration: 'sandbox', owner_id: 'sam', kind: 'user' });

      await checkAndNotify();
      const alert = await h.tk.alerts.get(CONNECTION_STUCK, sessionId);
      assert.equal(alert?.state, 'firing');
      assert.equal(alert?.severity, 'LOW');
      assert.equal(alert?.labels.state, 'connect_session');
      assert.deepEqual(channel.about(sessionId).map(({ kind, state }) => [kind, state]), [['firing', 'firing']]);

      // The user starts again and finishes: the old link is no longer what they wait on.
      await h.connect('sam', 'sam');
      assert.deepEqual(await stuckList(), []);
      await checkAndNotify();
      assert.equal((await h.tk.alerts.get(CONNECTION_STUCK, sessionId))?.state, 'resolved');
      assert.deepEqual(channel.about(sessionId).at(-1), { at: h.clock.now(), kind: 'resolved', state: 'resolved' });
    });

    test('a connection degraded for more than an hour is stuck (MEDIUM), and recovers by itself', async () => {
      const id = await h.connect('dora', 'dora');
      h.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
      for (let i = 0; i < 3; i++) {
        h.clock.advance(1_000);
        assert.equal((await h.api('POST', `/v1/connections/${id}/refresh`)).status, 503);
      }
      assert.equal((await h.api('GET', `/v1/connections/${id}`)).body.status, 'degraded');
      h.clock.advance(59 * MINUTE);
      assert.deepEqual(await stuckList(), []);
      h.clock.advance(2 * MINUTE);
      const [item] = await stuckList('?state=degraded');
      assert.equal(item.id, id);
      assert.equal(item.connection_id, id);
      assert.equal(item.severity, 'MEDIUM');
      assert.equal(item.terminal, false);
      assert.equal(item.reconnect, null, 'nothing for the user to do');
      assert.match(item.action, /recovers by itself/);
      assert.ok(item.reason, 'the last error says why');
      await checkAndNotify();
      assert.equal((await h.tk.alerts.get(CONNECTION_STUCK, id))?.severity, 'MEDIUM');

      h.sandbox.resetFaults();
      assert.equal((await h.api('POST', `/v1/connections/${id}/refresh`)).status, 200);
      assert.deepEqual(await stuckList(), []);
      await checkAndNotify();
      assert.equal((await h.tk.alerts.get(CONNECTION_STUCK, id))?.state, 'resolved');
    });

    test('needs_reauth for more than 24 h is stuck (HIGH, terminal), re-notified at most every 6 h, resolved after reconnect', async () => {
      const id = await h.connect('rita', 'rita');
      await h.sandbox.revokeGrants('rita');
      h.clock.advance(100_000);
      const refused = await h.api('GET', `/v1/connections/${id}/token`);
      assert.equal(refused.body.error.code, 'connection_needs_reauth');

      h.clock.advance(23 * HOUR);
      await checkAndNotify();
      assert.deepEqual(await stuckList(), [], 'not stuck before a day');
      assert.equal(await h.tk.alerts.get(CONNECTION_STUCK, id), null);

      h.clock.advance(HOUR);
      const [item] = await stuckList();
      assert.equal(item.id, id);
      assert.equal(item.state, 'needs_reauth');
      assert.equal(item.severity, 'HIGH');
      assert.equal(item.terminal, true);
      assert.ok(item.stuck_for_seconds >= 24 * 3600);
      assert.match(item.action, /Only the user can fix this/);
      assert.deepEqual(item.reconnect, { integration: 'sandbox', owner_id: 'rita', kind: 'user' });

      // Thirteen hours of the scheduler: the stuck check every 5 minutes, notify after each.
      const start = h.clock.now();
      while (h.clock.now() - start < 13 * HOUR) await checkAndNotify();
      const sent = channel.about(id);
      assert.deepEqual(sent.map(({ kind }) => kind), ['firing', 'repeat', 'repeat'], 'once, then every 6 h (not every hour, the repeat interval of other alerts)');
      for (let i = 1; i < sent.length; i++) {
        const gap = sent[i]!.at - sent[i - 1]!.at;
        assert.ok(gap >= 6 * HOUR && gap < 6 * HOUR + 10 * MINUTE, `re-notified after ${gap / MINUTE} minutes`);
      }
      const alert = await h.tk.alerts.get(CONNECTION_STUCK, id);
      assert.equal(alert?.severity, 'HIGH');
      assert.equal(alert?.labels.terminal, 'true');
      assert.equal(alert?.notificationCount, 3);

      const reconnected = await h.connect('rita', 'rita');
      assert.equal(reconnected, id);
      assert.deepEqual(await stuckList(), []);
      await checkAndNotify();
      assert.equal((await h.tk.alerts.get(CONNECTION_STUCK, id))?.state, 'resolved');
      assert.deepEqual(channel.about(id).at(-1), { at: h.clock.now(), kind: 'resolved', state: 'resolved' });
    });

    test('filters by severity, terminal flag and state; bad filters are 400s', async () => {
      const created = await h.api('POST', '/v1/connect/sessions', { integration: 'sandbox', owner_id: 'filter-session' });
      const id = await h.connect('filter-reauth', 'filter-reauth');
      await h.sandbox.revokeGrants('filter-reauth');
      h.clock.advance(100_000);
      await h.api('GET', `/v1/connections/${id}/token`);
      h.clock.advance(25 * HOUR);

      const ids = async (query: string): Promise<string[]> => (await stuckList(query)).map((item: { id: string }) => item.id);
      assert.deepEqual(await ids(''), [id, created.body.id], 'highest severity first');
      assert.deepEqual(await ids('?severity=HIGH'), [id]);
      assert.deepEqual(await ids('?severity=LOW'), [created.body.id]);
      assert.deepEqual(await ids('?severity=MEDIUM'), []);
      assert.deepEqual(await ids('?terminal=true'), [id]);
      assert.deepEqual(await ids('?terminal=false'), [created.body.id]);
      assert.deepEqual(await ids('?state=connect_session&terminal=false'), [created.body.id]);
      assert.deepEqual(await ids('?state=needs_reauth&severity=LOW'), []);
      const listed = await h.api('GET', '/v1/stuck');
      assert.deepEqual(listed.body.thresholds, { connect_session_seconds: 1800, degraded_seconds: 3600, needs_reauth_seconds: 86400 });

      for (const [query, problem] of [
        ['?severity=low', /severity must be one of "LOW", "MEDIUM", "HIGH"/],
        ['?terminal=maybe', /terminal must be/],
        ['?state=stuck', /state must be one of/],
        ['?owner=x', /unknown query parameter "owner"/],
      ] as const) {
        const response = await h.api('GET', `/v1/stuck${query}`);
        assert.equal(response.status, 400, query);
        assert.equal(response.body.error.code, 'invalid_request');
        assert.match(response.body.error.message, problem);
      }

      // The gauge on /metrics counts the same.
      const metrics = await h.http.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /tokenkeeper_stuck_connections\{state="needs_reauth",severity="HIGH"\} 1\n/);
      assert.match(metrics.body, /tokenkeeper_stuck_connections\{state="connect_session",severity="LOW"\} 1\n/);
      assert.match(metrics.body, /tokenkeeper_stuck_connections\{state="degraded",severity="MEDIUM"\} 0\n/);
    });

    test('two instances on one database: each 5-minute tick of the stuck job runs once', async () => {
      const other = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger });
      try {
        h.clock.advance(5 * MINUTE);
        const reports = await Promise.all([h.tk.jobs.tick('stuck'), other.jobs.tick('stuck')]);
        const ran = reports.filter((report) => report !== null);
        assert.equal(ran.length, 1, 'one instance claimed the tick');
        assert.equal(ran[0]!.checked, 2);
        assert.equal(await h.tk.jobs.tick('stuck'), null, 'not again within the interval');
        h.clock.advance(5 * MINUTE);
        assert.notEqual(await other.jobs.tick('stuck'), null, 'the next interval runs');
        assert.equal((await h.tk.alerts.list({ type: CONNECTION_STUCK, state: 'firing' })).length, 2, 'one alert per stuck connection');
      } finally {
        await other.close();
      }
    });
  });
}
