import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AlertChannel, GroupNotification, Severity } from '../src/alerts/index.ts';
import { ManualClock } from '../src/clock.ts';
import { loadConfig } from '../src/config/index.ts';
import { KeyRing } from '../src/crypto/index.ts';
import { createMemoryLogger } from '../src/logger.ts';
import { createTokenkeeper, type Tokenkeeper } from '../src/service.ts';
import { listAlertNotifications } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

/**
 * Timeline tests of the notification policy, in the style of Alertmanager's acceptance tests:
 * alerts are pushed at given times on the manual clock, the `notify` step runs every 5 s as the
 * scheduler would, and recording channels (real in-process AlertChannel implementations) expect
 * notifications in given windows. Times below are seconds from the start of each timeline.
 * Policy: group_wait 30 s, group_interval 5 min (the defaults), repeat_interval and
 * escalate_after 1 h (shortened through their variables, same semantics as 6 h and 12 h).
 */

const S = 1000;
const STEP = 5 * S;

/** A channel that records what it is sent and when; can be told to fail. */
class RecordingChannel implements AlertChannel {
  readonly name: string;
  readonly minSeverity: Severity;
  readonly received: { at: number; notification: GroupNotification }[] = [];
  failing: string | null = null;
  private readonly clock: { now(): number };
  private readonly start: () => number;

  constructor(name: string, minSeverity: Severity, clock: { now(): number }, start: () => number) {
    this.name = name;
    this.minSeverity = minSeverity;
    this.clock = clock;
    this.start = start;
  }

  async send(notification: GroupNotification): Promise<void> {
    if (this.failing) throw new Error(this.failing);
    this.received.push({ at: (this.clock.now() - this.start()) / S, notification });
  }

  /** [seconds since start, kind, alert keys] of each notification, for compact assertions. */
  timeline(): [number, string, string[]][] {
    return this.received.map(({ at, notification }) => [at, notification.kind, notification.alerts.map((alert) => `${alert.key}:${alert.state}`)]);
  }
}

interface Timeline {
  tk: Tokenkeeper;
  clock: ManualClock;
  low: RecordingChannel;
  high: RecordingChannel;
  logger: ReturnType<typeof createMemoryLogger>;
  /** Seconds since the timeline's start. */
  t(): number;
  /** Steps every 5 s up to `seconds` (inclusive), as the scheduler's `notify` ticks would. */
  runUntil(seconds: number): Promise<void>;
  raise(key: string, options?: { type?: string; severity?: Severity; integration?: string }): Promise<void>;
  close(): Promise<void>;
}

async function startTimeline(): Promise<Timeline> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-alerts-'));
  const config = loadConfig({
    env: {
      TOKENKEEPER_DATA_DIR: dataDir,
      TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
      TOKENKEEPER_SANDBOX: 'false',
      TOKENKEEPER_SWEEP_INTERVAL: '0',
      TOKENKEEPER_ALERT_REPEAT_INTERVAL: '1h',
      TOKENKEEPER_ALERT_ESCALATE_AFTER: '3600',
    },
    dotenvPath: false,
  });
  // Start on a step boundary so that windows read as round numbers.
  const clock = new ManualClock(Math.floor(Date.now() / 60_000) * 60_000);
  const start = clock.now();
  const low = new RecordingChannel('low', 'LOW', clock, () => start);
  const high = new RecordingChannel('high', 'HIGH', clock, () => start);
  const logger = createMemoryLogger();
  const tk = await createTokenkeeper({ config, clock, logger, alertChannels: [low, high], alertDelivery: { baseMs: 10 * S, maxMs: 60 * S } });
  const t = (): number => (clock.now() - start) / S;
  return {
    tk,
    clock,
    low,
    high,
    logger,
    t,
    runUntil: async (seconds) => {
      while (t() + STEP / S <= seconds) {
        clock.advance(STEP);
        await tk.notifier.step();
      }
    },
    raise: async (key, options = {}) => {
      await tk.alerts.raise({
        type: options.type ?? 'connection_needs_reauth',
        key,
        severity: options.severity ?? 'MEDIUM',
        labels: { integration: options.integration ?? 'google', connection: key },
        summary: `connection ${key} needs re-authorization`,
      });
    },
    close: async () => {
      await tk.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Asserts every notification time lies in its [from, to] window (seconds). */
function assertWindows(actual: [number, string, string[]][], expected: [[number, number], string, string[]][]): void {
  assert.equal(actual.length, expected.length, `notifications: ${JSON.stringify(actual)}`);
  expected.forEach(([[from, to], kind, keys], i) => {
    const [at, actualKind, actualKeys] = actual[i]!;
    assert.ok(at >= from && at <= to, `notification ${i} at ${at} s, expected within [${from}, ${to}]: ${JSON.stringify(actual)}`);
    assert.equal(actualKind, kind, `notification ${i}: ${JSON.stringify(actual)}`);
    assert.deepEqual([...actualKeys].sort(), [...keys].sort(), `notification ${i}: ${JSON.stringify(actual)}`);
  });
}

describe('alert notification policy (timelines)', () => {
  let tl: Timeline;
  const fresh = async (): Promise<Timeline> => {
    await tl?.close();
    tl = await startTimeline();
    return tl;
  };
  after(async () => tl?.close());

  test('group_wait gathers alerts of one group into one message; other groups get their own', async () => {
    const { raise, runUntil, low, high } = await fresh();
    await raise('c1');
    await runUntil(10);
    await raise('c2');
    await raise('c3', { integration: 'github' });
    await runUntil(20);
    await raise('c4');
    await runUntil(120);
    assertWindows(low.timeline(), [
      [[30, 35], 'firing', ['c1:firing', 'c2:firing', 'c4:firing']],
      [[40, 45], 'firing', ['c3:firing']],
    ]);
    assert.equal(low.received[0]!.notification.text, '3 google connections need re-authorization');
    assert.equal(low.received[1]!.notification.text, 'connection c3 needs re-authorization', 'one alert reads as its own summary');
    assert.equal(low.received[0]!.notification.groupKey, 'connection_needs_reauth{integration="google"}');
    assert.deepEqual(high.timeline(), [], 'MEDIUM alerts never reach a channel whose minimum is HIGH');
  });

  test('group_interval: a change to a notified group waits for the next flush, raising again changes nothing', async () => {
    const { raise, runUntil, low, tk } = await fresh();
    await raise('c1');
    await runUntil(60);
    await raise('c2');
    await raise('c1'); // still firing: an update, not news
    await runUntil(400);
    assertWindows(low.timeline(), [
      [[30, 35], 'firing', ['c1:firing']],
      [[330, 335], 'firing', ['c1:firing', 'c2:firing']],
    ]);
    const c1 = await tk.alerts.get('connection_needs_reauth', 'c1');
    assert.equal(c1?.notificationCount, 2);
    assert.equal((await tk.alerts.list({ state: 'firing' })).length, 2);
  });

  test('repeat_interval: an unchanged firing group is sent again once per interval, and only then', async () => {
    const { raise, runUntil, low } = await fresh();
    await raise('c1', { severity: 'LOW' }); // LOW: not escalated after the hour
    await runUntil(2 * 3600 + 100);
    assertWindows(low.timeline(), [
      [[30, 35], 'firing', ['c1:firing']],
      [[3630, 3635], 'repeat', ['c1:firing']],
      [[7230, 7235], 'repeat', ['c1:firing']],
    ]);
  });

  test('resolution: one notice when the condition clears; the same alert firing again is news again', async () => {
    const { raise, runUntil, low, tk } = await fresh();
    await raise('c1');
    await raise('c2');
    await runUntil(100);
    assert.equal(await tk.alerts.resolve('connection_needs_reauth', 'c1'), true);
    await runUntil(340);
    assert.equal(await tk.alerts.resolve('connection_needs_reauth', 'c2'), true);
    assert.equal(await tk.alerts.resolve('connection_needs_reauth', 'c2'), false, 'resolving twice is a no-op');
    await runUntil(700);
    await raise('c1');
    await runUntil(800);
    assertWindows(low.timeline(), [
      [[30, 35], 'firing', ['c1:firing', 'c2:firing']],
      [[330, 335], 'firing', ['c2:firing', 'c1:resolved']],
      [[630, 635], 'resolved', ['c2:resolved']],
      [[730, 735], 'firing', ['c1:firing']],
    ]);
    assert.equal(low.received[2]!.notification.text, 'Resolved: connection c2 needs re-authorization');
  });

  test('an alert that fires and clears within group_wait is never sent', async () => {
    const { raise, runUntil, low, tk } = await fresh();
    await raise('c1');
    await runUntil(10);
    await tk.alerts.resolve('connection_needs_reauth', 'c1');
    await runUntil(700);
    assert.deepEqual(low.timeline(), []);
  });

  test('silences: a silenced alert is recorded, not sent; sent after the silence expires (by time or by hand)', async () => {
    const { raise, runUntil, low, tk, clock } = await fresh();
    const start = clock.now();
    await tk.alerts.silence({ matchers: [{ name: 'integration', value: 'google' }], endsAt: start + 600 * S, createdBy: 'ops', comment: 'google outage' });
    await tk.alerts.silence({ matchers: [{ name: 'type', value: 'connection_needs_reauth' }, { name: 'integration', value: 'github' }], endsAt: start + 86_400 * S, createdBy: 'ops' });
    await raise('g1');
    await raise('h1', { integration: 'github' });
    await runUntil(300);
    assert.deepEqual(low.timeline(), [], 'nothing sent while silenced');
    const alert = await tk.alerts.get('connection_needs_reauth', 'g1');
    assert.equal(alert?.state, 'firing', 'the silenced alert is still recorded');
    const log = await listAlertNotifications(tk.database.db, { channel: 'low' });
    assert.deepEqual(log.map((row) => [row.status, row.groupKey]).sort(), [
      ['silenced', 'connection_needs_reauth{integration="github"}'],
      ['silenced', 'connection_needs_reauth{integration="google"}'],
    ], 'each silenced alert is logged once, not at every evaluation');
    await runUntil(700); // the google silence ended at 600 s: sent at the group's next flush (630 s)
    const github = (await tk.alerts.listSilences({ active: true })).find((silence) => silence.matchers.some((m) => m.value === 'github'))!;
    assert.equal(await tk.alerts.expireSilence(github.id), true);
    assert.equal(await tk.alerts.expireSilence(github.id), false);
    await runUntil(1000);
    assertWindows(low.timeline(), [
      [[630, 635], 'firing', ['g1:firing']],
      [[930, 935], 'firing', ['h1:firing']],
    ]);
    assert.equal((await tk.alerts.listSilences()).length, 2, 'expired silences are kept for history');
    assert.equal((await tk.alerts.listSilences({ active: true })).length, 0);
  });

  test('"silence everything until T" holds every alert back; restore lets them through', async () => {
    const { raise, runUntil, low, high, tk, clock } = await fresh();
    await tk.alerts.silenceAll({ endsAt: clock.now() + 4 * 3600 * S, createdBy: 'ops', comment: 'maintenance' });
    await raise('c1', { severity: 'HIGH' });
    await raise('x1', { type: 'sweep_stalled', severity: 'HIGH', integration: 'none' });
    await runUntil(400);
    assert.deepEqual([...low.timeline(), ...high.timeline()], []);
    assert.equal(await tk.alerts.restore(), 1);
    await runUntil(700);
    assertWindows(high.timeline(), [
      [[630, 635], 'firing', ['c1:firing']],
      [[630, 635], 'firing', ['x1:firing']],
    ]);
  });

  test('escalation: a MEDIUM alert firing past escalate_after becomes HIGH and reaches the HIGH channels', async () => {
    const { raise, runUntil, low, high, tk } = await fresh();
    await raise('c1', { severity: 'MEDIUM' });
    await runUntil(3600 + 400);
    assertWindows(high.timeline(), [[[3630, 3635], 'firing', ['c1:firing']]]);
    assert.equal(high.received[0]!.notification.severity, 'HIGH');
    // The LOW channel heard of it as MEDIUM; the escalation is news there too (not a repeat).
    assertWindows(low.timeline(), [
      [[30, 35], 'firing', ['c1:firing']],
      [[3630, 3635], 'firing', ['c1:firing']],
    ]);
    const alert = await tk.alerts.get('connection_needs_reauth', 'c1');
    assert.equal(alert?.severity, 'HIGH');
    assert.equal(alert?.escalated, true);
    await raise('c1', { severity: 'MEDIUM' }); // the rule raising it again does not undo the escalation
    assert.equal((await tk.alerts.get('connection_needs_reauth', 'c1'))?.severity, 'HIGH');
  });

  test('channel minimum severity: LOW and MEDIUM stay off a HIGH channel; HIGH goes everywhere', async () => {
    const { raise, runUntil, low, high } = await fresh();
    await raise('l1', { severity: 'LOW', integration: 'a' });
    await raise('h1', { severity: 'HIGH', integration: 'b' });
    await runUntil(60);
    assertWindows(low.timeline(), [
      [[30, 35], 'firing', ['l1:firing']],
      [[30, 35], 'firing', ['h1:firing']],
    ]);
    assertWindows(high.timeline(), [[[30, 35], 'firing', ['h1:firing']]]);
  });

  test('a failing channel: recorded, printed to the log at once, retried with backoff, channel_failing raised and resolved', async () => {
    const { raise, runUntil, low, high, tk, logger } = await fresh();
    high.failing = 'connect ECONNREFUSED 127.0.0.1:9';
    await raise('c1', { severity: 'HIGH' });
    await runUntil(60);
    assertWindows(low.timeline(), [[[30, 35], 'firing', ['c1:firing']]]);
    const fallback = logger.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.fallback_for === 'high');
    assert.equal(fallback.length, 1, 'the fallback prints the notification once, not at every retry');
    assert.match(String(fallback[0]!.text), /connection c\d needs re-authorization/);
    const failing = await tk.alerts.get('channel_failing', 'high');
    assert.equal(failing?.state, 'firing');
    assert.equal(failing?.severity, 'HIGH');
    const rows = await listAlertNotifications(tk.database.db, { channel: 'high' });
    assert.equal(rows[0]!.status, 'pending');
    assert.equal(rows[0]!.error, 'connect ECONNREFUSED 127.0.0.1:9');
    assert.ok(rows[0]!.attempts >= 2 && rows[0]!.attempts <= 4, `attempts back off (10 s, 20 s, …): ${rows[0]!.attempts}`);
    high.failing = null;
    await runUntil(200);
    assert.equal(high.received.filter((entry) => entry.notification.groupKey.startsWith('connection_needs_reauth')).length, 1, 'delivered once it works again');
    assert.equal((await tk.alerts.get('channel_failing', 'high'))?.state, 'resolved');
    assert.equal((await tk.alerts.list({ type: 'channel_failing' })).length, 1, 'one channel_failing alert, however many attempts failed');
  });

  test('raising never waits for a channel: a channel that hangs does not delay raise()', async () => {
    const hanging: AlertChannel = { name: 'hang', minSeverity: 'LOW', send: () => new Promise(() => undefined) };
    const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-alerts-'));
    const config = loadConfig({ env: { TOKENKEEPER_DATA_DIR: dataDir, TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'), TOKENKEEPER_SANDBOX: 'false', TOKENKEEPER_SWEEP_INTERVAL: '0' }, dotenvPath: false });
    const clock = new ManualClock();
    const tk = await createTokenkeeper({ config, clock, logger: createMemoryLogger(), alertChannels: [hanging], alertDelivery: { sendTimeoutMs: 200 } });
    try {
      await tk.alerts.raise({ type: 'sweep_stalled', key: 'refresh', severity: 'HIGH', summary: 'the sweep stalled' });
      clock.advance(31 * S);
      const stepping = tk.notifier.step();
      // While the step waits on the hanging channel, raising and resolving still complete.
      await tk.alerts.raise({ type: 'sweep_stalled', key: 'other', severity: 'HIGH', summary: 'another' });
      await tk.alerts.resolve('sweep_stalled', 'other');
      const report = await stepping;
      assert.equal(report.failed, 1, 'the hanging send was cut off by the timeout and counted as failed');
      const [row] = await listAlertNotifications(tk.database.db, { channel: 'hang' });
      assert.match(row!.error ?? '', /timed out/);
    } finally {
      await tk.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

for (const dialect of testDialects()) {
  describe(`alerts across two instances sharing a database (${dialect})`, () => {
    let h: Harness;
    let other: Tokenkeeper;
    const mine: GroupNotification[] = [];
    const theirs: GroupNotification[] = [];
    const recorder = (into: GroupNotification[]): AlertChannel => ({ name: 'webhook', minSeverity: 'LOW', send: async (notification) => void into.push(notification) });

    before(async () => {
      h = await startHarness({ dialect, alertChannels: [recorder(mine)] });
      other = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger, alertChannels: [recorder(theirs)] });
    });
    after(async () => {
      await other?.close();
      await h?.close();
    });

    test('the same alert raised by both at once is one alert; stepping both at once sends one notification, not two', async () => {
      const raise = (tk: Tokenkeeper, key: string) =>
        tk.alerts.raise({ type: 'connection_needs_reauth', key, severity: 'HIGH', labels: { integration: 'sandbox' }, summary: `connection ${key} needs re-authorization` });
      await Promise.all([raise(h.tk, 'con_1'), raise(other, 'con_1'), raise(h.tk, 'con_2'), raise(other, 'con_2')]);
      assert.equal((await h.tk.alerts.list()).length, 2);
      h.clock.advance(31 * S);
      await Promise.all([h.tk.notifier.step(), other.notifier.step(), h.tk.notifier.step(), other.notifier.step()]);
      assert.equal(mine.length + theirs.length, 1, `one notification in all: ${JSON.stringify([mine, theirs])}`);
      const [sent] = [...mine, ...theirs];
      assert.equal(sent!.alerts.length, 2);
      assert.equal(sent!.text, '2 sandbox connections need re-authorization');

      // The scheduler's path: each instance's `notify` tick; the claimed tick runs once, and the
      // resolution notice goes out once.
      await Promise.all([h.tk.alerts.resolve('connection_needs_reauth', 'con_1'), other.alerts.resolve('connection_needs_reauth', 'con_1')]);
      await h.tk.alerts.resolve('connection_needs_reauth', 'con_2');
      h.clock.advance(300 * S);
      await Promise.all([h.tk.jobs.tick('notify'), other.jobs.tick('notify')]);
      await Promise.all([h.tk.notifier.step(), other.notifier.step()]);
      // Either instance may have sent either notice, so the two lists are compared as one set.
      const kinds = [...mine, ...theirs].map((notification) => notification.kind).sort();
      assert.deepEqual(kinds, ['firing', 'resolved']);
      const log = await listAlertNotifications(h.tk.database.db);
      assert.deepEqual(log.map((row) => [row.kind, row.status]), [['firing', 'sent'], ['resolved', 'sent']]);
    });
  });
}
