import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateWebhookSecret, verifyWebhook } from '../src/delivery/index.ts';
import { listAlertNotifications } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

/**
 * The alert API (issue 8, item 7) on a real Tokenkeeper whose webhook channel posts to a local
 * HTTP receiver that checks the Standard Webhooks signature, beside the console channel, on the
 * manual clock. The notify job is stepped by hand, as the scheduler would run it.
 */

const S = 1000;
const HOUR = 3_600_000;

/** The alert webhook's receiver: records each verified notification; `status` is what it answers. */
interface Receiver {
  url: string;
  status: number;
  received: { type: string; alerts: { type: string; key: string; state: string }[]; id: string }[];
  close(): Promise<void>;
}

async function startReceiver(secret: string): Promise<Receiver> {
  const receiver: Receiver = { url: '', status: 200, received: [], close: async () => undefined };
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        // The webhook channel dates signatures on the real clock, as a receiver checks them.
        const id = verifyWebhook(secret, request.headers as Record<string, string>, body);
        if (receiver.status === 200) {
          const payload = JSON.parse(body);
          receiver.received.push({ id, type: payload.type, alerts: payload.data.alerts });
        }
        response.writeHead(receiver.status).end();
      } catch {
        response.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return receiver;
}

for (const dialect of testDialects()) {
  describe(`the alert API (${dialect})`, () => {
    let h: Harness;
    let receiver: Receiver;
    const secret = generateWebhookSecret();
    const urlToken = 'url-token-0123456789abcdef';

    before(async () => {
      receiver = await startReceiver(secret);
      h = await startHarness({
        dialect,
        env: { TOKENKEEPER_ALERT_WEBHOOK_URL: `${receiver.url}/hooks/tokenkeeper?token=${urlToken}`, TOKENKEEPER_ALERT_WEBHOOK_SECRET: secret },
      });
    });
    after(async () => {
      await h.close();
      await receiver.close();
    });

    /** What the webhook received about alerts of `type`: [kind, keys]. */
    const heard = (type: string): [string, string[]][] =>
      receiver.received.filter((message) => message.alerts.some((alert) => alert.type === type)).map((message) => [message.type, message.alerts.map((alert) => `${alert.key}:${alert.state}`)]);

    /** Advances past group_interval (5 min, which covers group_wait) and runs the notify job. */
    async function notifyLater(ms = 5 * 60 * S + S): Promise<void> {
      h.clock.advance(ms);
      await h.tk.notifier.step();
    }

    test('GET /v1/alerts filters by state, severity, type and since (ISO 8601 or epoch seconds); bad queries are 400s', async () => {
      const t0 = h.clock.now();
      await h.tk.alerts.raise({ type: 'list_a', key: 'a1', severity: 'HIGH', labels: { integration: 'google' }, summary: 'a1 is broken' });
      await h.tk.alerts.raise({ type: 'list_a', key: 'a2', severity: 'LOW', summary: 'a2 is broken' });
      h.clock.advance(HOUR);
      await h.tk.alerts.raise({ type: 'list_b', key: 'b1', severity: 'MEDIUM', summary: 'b1 is broken' });
      await h.tk.alerts.resolve('list_a', 'a2');
      h.clock.advance(HOUR);

      const keys = async (query: string): Promise<string[]> => {
        const response = await h.api('GET', `/v1/alerts${query}`);
        assert.equal(response.status, 200, JSON.stringify(response.body));
        return response.body.data.filter((alert: { type: string }) => alert.type.startsWith('list_')).map((alert: { key: string }) => alert.key).sort();
      };
      assert.deepEqual(await keys(''), ['a1', 'a2', 'b1']);
      assert.deepEqual(await keys('?state=firing'), ['a1', 'b1']);
      assert.deepEqual(await keys('?state=resolved'), ['a2']);
      assert.deepEqual(await keys('?severity=HIGH'), ['a1']);
      assert.deepEqual(await keys('?type=list_a'), ['a1', 'a2']);
      assert.deepEqual(await keys('?type=list_a&state=firing&severity=HIGH'), ['a1']);
      const halfway = t0 + HOUR / 2;
      // a2 was last seen before then but resolved after; a1 is still firing; b1 was seen after.
      assert.deepEqual(await keys(`?since=${new Date(halfway).toISOString()}`), ['a1', 'a2', 'b1']);
      assert.deepEqual(await keys(`?since=${Math.floor((t0 + 1.5 * HOUR) / 1000)}&state=resolved`), [], 'epoch seconds; a2 resolved before then');
      assert.deepEqual(await keys(`?since=${encodeURIComponent(new Date(t0 + HOUR - S).toISOString().replace('Z', '+00:00'))}&state=resolved`), ['a2']);

      const one = (await h.api('GET', '/v1/alerts?type=list_a&severity=HIGH')).body.data[0];
      assert.deepEqual(Object.keys(one).sort(), [
        'escalated', 'first_seen_at', 'group_key', 'id', 'key', 'labels', 'last_notified_at', 'last_seen_at', 'notification_count', 'resolved_at', 'severity', 'silenced', 'state', 'summary', 'type',
      ]);
      assert.equal(one.first_seen_at, new Date(t0).toISOString());
      assert.deepEqual(one.labels, { integration: 'google' });
      assert.equal(one.group_key, 'list_a{integration="google"}');

      for (const [query, problem] of [
        ['?since=yesterday', /since: "yesterday" is not an ISO 8601 date-time/],
        [`?since=${t0}`, /looks like milliseconds; give epoch seconds/],
        ['?since=2030-01-31T12:00:00', /with a time zone/],
        ['?severity=CRITICAL', /severity must be one of "LOW", "MEDIUM", "HIGH"/],
        ['?state=open', /state must be one of "firing", "resolved"/],
        ['?type=Bad%20Type', /type must be an alert type/],
        ['?limit=0', /limit must be at least 1/],
        ['?colour=red', /unknown query parameter "colour"/],
      ] as const) {
        const response = await h.api('GET', `/v1/alerts${query}`);
        assert.equal(response.status, 400, `${query}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, 'invalid_request');
        assert.match(response.body.error.message, problem);
        assert.ok(Array.isArray(response.body.error.details.problems));
      }
      for (const key of ['a1', 'b1']) await h.tk.alerts.resolve(key === 'a1' ? 'list_a' : 'list_b', key);
    });

    test('POST /v1/alerts/test sends through every channel now and reports each result, without secrets', async () => {
      const before = receiver.received.length;
      const ok = await h.api('POST', '/v1/alerts/test');
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.ok, true);
      assert.deepEqual(
        ok.body.results.map((result: { channel: string; ok: boolean; error: string | null; target: string }) => [result.channel, result.ok, result.error, result.target]),
        [['console', true, null, 'the log'], ['webhook', true, null, receiver.url]],
      );
      // No group wait: the receiver already has it, signed (the receiver verified the signature).
      assert.equal(receiver.received.length, before + 1);
      assert.equal(receiver.received.at(-1)!.type, 'alert.test');
      assert.equal(receiver.received.at(-1)!.id, ok.body.id);

      receiver.status = 500;
      h.clock.advance(S);
      const failed = await h.api('POST', '/v1/alerts/test');
      receiver.status = 200;
      assert.equal(failed.status, 200);
      assert.equal(failed.body.ok, false);
      const webhook = failed.body.results.find((result: { channel: string }) => result.channel === 'webhook');
      assert.equal(webhook.ok, false);
      assert.match(webhook.error, /500/);
      assert.equal(failed.body.results.find((result: { channel: string }) => result.channel === 'console').ok, true);
      const text = JSON.stringify([ok.body, failed.body]);
      for (const leaked of [secret, urlToken, 'hooks/tokenkeeper']) assert.equal(text.includes(leaked), false, `${leaked} in the answer`);

      // Each attempt is in the delivery log; none is left for the notifier to send again.
      const logged = (await listAlertNotifications(h.tk.database.db, { groupKey: 'test{}' })).filter((row) => row.channel === 'webhook');
      assert.deepEqual(logged.map((row) => [row.kind, row.status]), [['test', 'sent'], ['test', 'failed']]);
      assert.match(logged[1]!.error ?? '', /500/);
      await notifyLater();
      assert.equal(receiver.received.filter((message) => message.type === 'alert.test').length, 1);
    });

    test('a silence on type and key holds back exactly that alert, not another with the same labels', async () => {
      const labels = { integration: 'sandbox', owner: 'alice' };
      await h.tk.alerts.raise({ type: 'key_silence', key: 'con_one', severity: 'HIGH', labels, summary: 'one' });
      await h.tk.alerts.raise({ type: 'key_silence', key: 'con_two', severity: 'HIGH', labels, summary: 'two' });
      const created = await h.api('POST', '/v1/silences', { matchers: { type: 'key_silence', key: 'con_one' }, ends_at: new Date(h.clock.now() + HOUR).toISOString() });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.matchers, { type: 'key_silence', key: 'con_one', severity: null, labels: {} });
      const listed = (await h.api('GET', '/v1/alerts?type=key_silence')).body.data;
      assert.deepEqual(listed.map((alert: { key: string; silenced: boolean }) => [alert.key, alert.silenced]).sort(), [['con_one', true], ['con_two', false]]);
      await notifyLater();
      assert.deepEqual(heard('key_silence'), [['alert.firing', ['con_two:firing']]]);
      const tooLong = await h.api('POST', '/v1/silences', { matchers: { key: 'k'.repeat(201) }, ends_at: new Date(h.clock.now() + HOUR).toISOString() });
      assert.equal(tooLong.status, 400);
      await h.api('DELETE', `/v1/silences/${created.body.id}`);
    });

    test('silences: created with matchers, listed with their state, expired (kept for history); a silenced alert is recorded, not sent', async () => {
      const now = h.clock.now();
      const created = await h.api('POST', '/v1/silences', {
        matchers: { type: 'silence_me', labels: { integration: 'github' } },
        ends_at: new Date(now + 2 * HOUR).toISOString(),
        comment: 'GitHub is down',
        created_by: 'ops@example.com',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const silence = created.body;
      assert.match(silence.id, /^sil_[a-z2-7]{20}$/);
      assert.deepEqual(silence.matchers, { type: 'silence_me', key: null, severity: null, labels: { integration: 'github' } });
      assert.equal(silence.state, 'active');
      assert.equal(silence.global, false);
      assert.equal(silence.starts_at, new Date(now).toISOString());
      assert.equal(silence.created_by, 'ops@example.com');
      h.clock.advance(S);

      const pending = await h.api('POST', '/v1/silences', {
        matchers: { severity: 'LOW' },
        starts_at: new Date(now + HOUR).toISOString(),
        ends_at: new Date(now + 3 * HOUR).toISOString(),
      });
      assert.equal(pending.status, 201);
      assert.equal(pending.body.state, 'pending');
      assert.equal(pending.body.created_by, 'api');

      await h.tk.alerts.raise({ type: 'silence_me', key: 'gh-1', severity: 'HIGH', labels: { integration: 'github' }, summary: 'github down' });
      await h.tk.alerts.raise({ type: 'silence_me', key: 'gl-1', severity: 'HIGH', labels: { integration: 'gitlab' }, summary: 'gitlab down' });
      await notifyLater();
      assert.deepEqual(heard('silence_me'), [['alert.firing', ['gl-1:firing']]], 'only the unsilenced alert is sent');
      const listed = (await h.api('GET', '/v1/alerts?type=silence_me')).body.data;
      assert.deepEqual(listed.map((alert: { key: string; silenced: boolean }) => [alert.key, alert.silenced]).sort(), [['gh-1', true], ['gl-1', false]], 'recorded, and marked silenced');
      const held = (await listAlertNotifications(h.tk.database.db, { status: 'silenced' })).filter((row) => row.groupKey.startsWith('silence_me'));
      assert.deepEqual(held.map((row) => row.channel).sort(), ['console', 'webhook'], 'the delivery log records what the silence held back');

      const all = await h.api('GET', '/v1/silences');
      assert.deepEqual(all.body.data.slice(0, 2).map((item: { id: string; state: string }) => [item.id, item.state]), [[pending.body.id, 'pending'], [silence.id, 'active']]);
      assert.deepEqual((await h.api('GET', '/v1/silences?state=pending')).body.data.map((item: { id: string }) => item.id), [pending.body.id]);

      h.clock.advance(60 * S);
      const expired = await h.api('DELETE', `/v1/silences/${silence.id}`);
      assert.equal(expired.status, 200);
      assert.equal(expired.body.state, 'expired');
      assert.equal(expired.body.expired_at, new Date(h.clock.now()).toISOString());
      const again = await h.api('DELETE', `/v1/silences/${silence.id}`);
      assert.equal(again.status, 200, 'expiring again answers it as it is');
      assert.equal(again.body.expired_at, expired.body.expired_at);
      const history = await h.api('GET', '/v1/silences?state=expired');
      assert.ok(history.body.data.some((item: { id: string }) => item.id === silence.id), 'kept for history');

      // The silence over, the alert it held back is news.
      await notifyLater();
      assert.deepEqual(heard('silence_me').at(-1), ['alert.firing', ['gh-1:firing']]);
      await h.api('DELETE', `/v1/silences/${pending.body.id}`);

      const unknown = await h.api('DELETE', '/v1/silences/sil_aaaaaaaaaaaaaaaaaaaa');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'silence_not_found');
      const badId = await h.api('DELETE', '/v1/silences/not-a-silence');
      assert.equal(badId.status, 400);
      assert.equal(badId.body.error.code, 'invalid_id');
      for (const [body, problem] of [
        [{ matchers: {}, ends_at: new Date(now + HOUR).toISOString() }, /at least one matcher.*POST \/v1\/silences\/all/],
        [{ matchers: { type: 'x' }, ends_at: new Date(now - HOUR).toISOString() }, /must end after it starts and in the future/],
        [{ matchers: { type: 'x' }, ends_at: 'tomorrow' }, /ends_at must be an ISO 8601 date-time/],
        [{ matchers: { severity: 'URGENT' }, ends_at: new Date(now + 2 * HOUR).toISOString() }, /matchers.severity must be one of/],
        [{ matchers: { labels: { type: 'x' } }, ends_at: new Date(now + 2 * HOUR).toISOString() }, /cannot be named type/],
        [{ matchers: { type: 'x' } }, /ends_at is required/],
        [{ matchers: { type: 'x' }, ends_at: new Date(now + 2 * HOUR).toISOString(), owner: 'me' }, /unknown field "owner"/],
      ] as const) {
        const response = await h.api('POST', '/v1/silences', body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.body.error.code, 'invalid_request');
        assert.match(response.body.error.message, problem);
      }
      for (const key of ['gh-1', 'gl-1']) await h.tk.alerts.resolve('silence_me', key);
      await notifyLater();
    });

    test('the global silence holds back every alert until its end or until restored', async () => {
      const started = await h.api('POST', '/v1/silences/all', { ends_at: new Date(h.clock.now() + 4 * HOUR).toISOString(), comment: 'maintenance' });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.equal(started.body.global, true);
      assert.deepEqual(started.body.matchers, { type: null, key: null, severity: null, labels: {} });
      assert.equal(started.body.state, 'active');

      await h.tk.alerts.raise({ type: 'maintenance', key: 'm1', severity: 'HIGH', summary: 'during maintenance' });
      await notifyLater();
      assert.deepEqual(heard('maintenance'), [], 'recorded, not sent');
      assert.equal((await h.api('GET', '/v1/alerts?type=maintenance')).body.data[0].silenced, true);

      const restored = await h.api('DELETE', '/v1/silences/all');
      assert.deepEqual(restored.body, { expired: 1 });
      assert.deepEqual((await h.api('DELETE', '/v1/silences/all')).body, { expired: 0 }, 'harmless when there is none');
      await notifyLater();
      assert.deepEqual(heard('maintenance'), [['alert.firing', ['m1:firing']]], 'sent once restored');

      const past = await h.api('POST', '/v1/silences/all', { ends_at: new Date(h.clock.now() - S).toISOString() });
      assert.equal(past.status, 400);
      assert.equal(past.body.error.code, 'invalid_request');
      await h.tk.alerts.resolve('maintenance', 'm1');
      await notifyLater();
    });

    test('GET /v1/alerts/stats counts alerts by type and severity, and deliveries sent, de-duplicated, silenced and failed', async () => {
      // A fresh window: everything above happened more than a day ago.
      for (const alert of await h.tk.alerts.list({ state: 'firing' })) await h.tk.alerts.resolve(alert.type, alert.key);
      await notifyLater();
      h.clock.advance(48 * HOUR);
      await h.tk.notifier.step();

      await h.tk.alerts.raise({ type: 'stats_a', key: 'a', severity: 'HIGH', summary: 'a' });
      h.clock.advance(S);
      await h.tk.alerts.raise({ type: 'stats_a', key: 'a', severity: 'HIGH', summary: 'a' });
      await h.tk.alerts.raise({ type: 'stats_b', key: 'b', severity: 'LOW', summary: 'b' });
      for (let i = 0; i < 2; i++) {
        h.clock.advance(S);
        await h.tk.alerts.raise({ type: 'stats_b', key: 'b', severity: 'LOW', summary: 'b' });
      }
      await h.api('POST', '/v1/silences', { matchers: { type: 'stats_b' }, ends_at: new Date(h.clock.now() + HOUR).toISOString() });
      receiver.status = 500;
      h.clock.advance(31 * S);
      await h.tk.notifier.step();
      receiver.status = 200;
      h.clock.advance(11 * S);
      await h.tk.notifier.step();
      assert.deepEqual(heard('stats_a'), [['alert.firing', ['a:firing']]], 'delivered on the retry');
      assert.equal((await h.api('POST', '/v1/alerts/test')).body.ok, true);

      const stats = await h.api('GET', '/v1/alerts/stats?hours=1');
      assert.equal(stats.status, 200, JSON.stringify(stats.body));
      assert.equal(stats.body.hours, 1);
      assert.equal(stats.body.until, new Date(h.clock.now()).toISOString());
      assert.equal(stats.body.since, new Date(h.clock.now() - HOUR).toISOString());
      assert.deepEqual(stats.body.alerts, { active: 2, firing: 2, fired: 2, resolved: 0, by_type: { stats_a: 1, stats_b: 1 }, by_severity: { LOW: 1, MEDIUM: 0, HIGH: 1 } });
      assert.deepEqual(stats.body.notifications, {
        sent: 2,
        silenced: 2,
        failed_deliveries: 1,
        undelivered: 0,
        pending: 0,
        suppressed_by_deduplication: 3,
        by_channel: {
          console: { sent: 1, silenced: 1, failed_deliveries: 0, undelivered: 0, pending: 0 },
          webhook: { sent: 1, silenced: 1, failed_deliveries: 1, undelivered: 0, pending: 0 },
        },
        tests: { sent: 2, failed: 0 },
      });
      const day = await h.api('GET', '/v1/alerts/stats');
      assert.equal(day.body.hours, 24, 'a day by default');
      for (const query of ['?hours=0', '?hours=721', '?hours=two', '?days=1']) {
        const response = await h.api('GET', `/v1/alerts/stats${query}`);
        assert.equal(response.status, 400, query);
        assert.equal(response.body.error.code, 'invalid_request');
      }
    });
  });
}
