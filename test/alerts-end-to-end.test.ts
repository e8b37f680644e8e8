import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateWebhookSecret, verifyWebhook } from '../src/delivery/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { httpServer, parseMail, smtpServer, type Closers, type Received } from './helpers/protocol-servers.ts';
import { testDialects } from './helpers/test-database.ts';

// Issue 8 end to end: a real sandbox grant revoked, every channel configured from the
// environment against a local server speaking its protocol (a signed webhook, Slack, SMTP,
// Twilio, PagerDuty), and the application's webhook endpoint. The clock moves in the
// scheduler's 5 s steps and every job ticks as the in-process scheduler would tick it.

const S = 1_000;
const TWILIO_SID = `AC${'0'.repeat(32)}`;
const ROUTING_KEY = 'R'.repeat(32);
const TWILIO_TOKEN = 'f'.repeat(32);

for (const dialect of testDialects()) {
  describe(`operator alerts and application webhooks end to end (${dialect})`, () => {
    const closers: Closers = [];
    const alertSecret = generateWebhookSecret();
    const appSecret = generateWebhookSecret();
    let h: Harness;
    let operator: { url: string; requests: Received[] };
    let slack: { url: string; requests: Received[] };
    let twilio: { url: string; requests: Received[] };
    let pagerduty: { url: string; requests: Received[] };
    let app: { url: string; requests: Received[] };
    let smtp: Awaited<ReturnType<typeof smtpServer>>;

    before(async () => {
      operator = await httpServer(closers, () => ({ status: 204 }));
      slack = await httpServer(closers, () => ({ status: 200, body: 'ok', contentType: 'text/plain' }));
      twilio = await httpServer(closers, () => ({ status: 201, body: '{"sid":"SM1"}' }));
      pagerduty = await httpServer(closers, () => ({ status: 202, body: '{"status":"success"}' }));
      app = await httpServer(closers, () => ({ status: 204 }));
      smtp = await smtpServer(closers, { username: 'alerts', password: 'mail-pass' });
      h = await startHarness({
        dialect,
        env: {
          TOKENKEEPER_ALERT_WEBHOOK_URL: `${operator.url}/alerts`,
          TOKENKEEPER_ALERT_WEBHOOK_SECRET: alertSecret,
          TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL: `${slack.url}/services/T0/B0/x`,
          TOKENKEEPER_SMTP_URL: `smtp://alerts:mail-pass@127.0.0.1:${smtp.port}`,
          TOKENKEEPER_ALERT_EMAIL_FROM: 'alerts@example.test',
          TOKENKEEPER_ALERT_EMAIL_TO: 'ops@example.test',
          TOKENKEEPER_TWILIO_ACCOUNT_SID: TWILIO_SID,
          TOKENKEEPER_TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
          TOKENKEEPER_TWILIO_FROM: '+15005550006',
          TOKENKEEPER_TWILIO_API_URL: twilio.url,
          TOKENKEEPER_ALERT_SMS_TO: '+447700900123',
          TOKENKEEPER_PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
          TOKENKEEPER_PAGERDUTY_API_URL: pagerduty.url,
          // A user's connection needing re-authorization is MEDIUM; SMS and PagerDuty take HIGH
          // by default, so they are opened to it here to see all five channels at work.
          TOKENKEEPER_ALERT_SMS_MIN_SEVERITY: 'MEDIUM',
          TOKENKEEPER_ALERT_PAGERDUTY_MIN_SEVERITY: 'MEDIUM',
          TOKENKEEPER_APP_WEBHOOK_URL: `${app.url}/tokenkeeper`,
          TOKENKEEPER_APP_WEBHOOK_SECRET: appSecret,
        },
      });
    });
    after(async () => {
      await h?.close();
      for (const close of closers.reverse()) await close();
    });

    /**
     * One scheduler step: 5 s later, every job's tick (each runs when its interval is due). The
     * sweep runs in this process at every step: on PostgreSQL its tick would queue durable jobs
     * for workers this test does not start (test/cluster-jobs.test.ts covers those).
     */
    async function step(): Promise<void> {
      h.clock.advance(5 * S);
      await h.tk.jobs.run('refresh');
      for (const name of h.tk.jobs.names()) if (name !== 'refresh') await h.tk.jobs.tick(name);
      await h.tk.events.settled();
    }

    const operatorBodies = () => operator.requests.map((request) => JSON.parse(request.body) as { type: string; data: { text: string; alerts: { key: string; state: string }[] } });
    const appEvents = () => app.requests.map((request) => JSON.parse(request.body) as { id: string; type: string; data: { connection: { id: string } } });
    /** The application's events about one connection (the sandbox's system connection has its own). */
    const ofConnection = (id: string) => appEvents().filter((event) => event.data.connection?.id === id);
    const twilioBodies = () => twilio.requests.map((request) => new URLSearchParams(request.body));
    const pagerEvents = () => pagerduty.requests.map((request) => JSON.parse(request.body) as { event_action: string; dedup_key: string });
    const counts = () => ({
      webhook: operator.requests.length,
      slack: slack.requests.length,
      email: smtp.mails.length,
      sms: twilio.requests.length,
      pagerduty: pagerduty.requests.length,
    });

    test('revoked grant: within group_wait one notification per channel naming the connection and one connection.needs_reauth; reconnect: one resolution notice each and one connection.recovered', async () => {
      const connectionId = await h.connect('e2e-erin', 'erin');
      // Settle what connecting produced (connection.created to the application) before the failure.
      for (let i = 0; i < 3; i++) await step();
      assert.deepEqual(ofConnection(connectionId).map((event) => event.type), ['connection.created']);
      assert.deepEqual(counts(), { webhook: 0, slack: 0, email: 0, sms: 0, pagerduty: 0 });

      await h.sandbox.revokeGrants('erin');
      const refreshed = await h.api('POST', `/v1/connections/${connectionId}/refresh`);
      assert.equal(refreshed.status, 409);
      assert.equal(refreshed.body.error.code, 'connection_needs_reauth');
      const failedAt = h.clock.now();

      // group_wait (30 s) gathers, then the notify tick after it sends: nothing before 30 s,
      // everything by 35 s.
      while (h.clock.now() - failedAt < 25 * S) await step();
      assert.deepEqual(counts(), { webhook: 0, slack: 0, email: 0, sms: 0, pagerduty: 0 }, 'gathered for group_wait first');
      while (h.clock.now() - failedAt < 35 * S) await step();
      assert.deepEqual(counts(), { webhook: 1, slack: 1, email: 1, sms: 1, pagerduty: 1 }, 'one notification per channel');

      const [alert] = operatorBodies();
      assert.equal(alert!.type, 'alert.firing');
      assert.deepEqual(alert!.data.alerts.map((item) => [item.key, item.state]), [[connectionId, 'firing']]);
      assert.match(alert!.data.text, new RegExp(connectionId));
      const signed = operator.requests[0]!;
      assert.doesNotThrow(() =>
        verifyWebhook(alertSecret, signed.headers, signed.body, { nowMs: Number(signed.headers['webhook-timestamp']) * 1000 }),
      );
      assert.match(slack.requests[0]!.body, new RegExp(connectionId));
      assert.match(parseMail(smtp.mails[0]!.raw).text, new RegExp(connectionId));
      assert.deepEqual(smtp.mails[0]!.to, ['ops@example.test']);
      const [sms] = twilioBodies();
      assert.equal(sms!.get('To'), '+447700900123');
      assert.match(sms!.get('Body')!, new RegExp(connectionId));
      assert.equal(twilio.requests[0]!.headers.authorization, `Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')}`);
      assert.deepEqual(pagerEvents().map((event) => [event.event_action, event.dedup_key]), [['trigger', `connection_needs_reauth/${connectionId}`]]);

      const needsReauth = appEvents().filter((event) => event.type === 'connection.needs_reauth');
      assert.equal(needsReauth.length, 1);
      assert.equal(needsReauth[0]!.data.connection.id, connectionId);
      const appDelivery = app.requests.find((request) => JSON.parse(request.body).type === 'connection.needs_reauth')!;
      assert.doesNotThrow(() =>
        verifyWebhook(appSecret, appDelivery.headers, appDelivery.body, { nowMs: Number(appDelivery.headers['webhook-timestamp']) * 1000 }),
      );
      assert.equal(appDelivery.headers['webhook-id'], needsReauth[0]!.id, 'the event id is the webhook id');

      // Still failing a while later: nothing more (repeat_interval is 6 h).
      for (let i = 0; i < 24; i++) await step();
      assert.deepEqual(counts(), { webhook: 1, slack: 1, email: 1, sms: 1, pagerduty: 1 }, 'no repeats within repeat_interval');
      assert.equal(appEvents().filter((event) => event.type === 'connection.needs_reauth').length, 1);

      // The user reconnects: the alert resolves by itself; one resolution notice per channel
      // (after group_interval, 5 min), and one connection.recovered to the application.
      assert.equal(await h.connect('e2e-erin', 'erin'), connectionId, 'the same connection, reconnected');
      const reconnectedAt = h.clock.now();
      while (h.clock.now() - reconnectedAt < 6 * 60 * S) await step();
      assert.deepEqual(counts(), { webhook: 2, slack: 2, email: 2, sms: 2, pagerduty: 2 }, `one resolution notice per channel: ${JSON.stringify(operatorBodies().map((body) => [body.type, body.data.text]))}`);
      assert.equal(operatorBodies()[1]!.type, 'alert.resolved');
      assert.match(operatorBodies()[1]!.data.text, new RegExp(`^Resolved: .*${connectionId}`));
      assert.deepEqual(pagerEvents()[1], { routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: `connection_needs_reauth/${connectionId}` });
      const recovered = appEvents().filter((event) => event.type === 'connection.recovered');
      assert.equal(recovered.length, 1);
      assert.equal(recovered[0]!.data.connection.id, connectionId);
      assert.deepEqual(
        ofConnection(connectionId).map((event) => event.type),
        ['connection.created', 'connection.needs_reauth', 'connection.recovered'],
        'and nothing else about it reached the application',
      );
      const firing = await h.tk.alerts.list({ state: 'firing' });
      assert.deepEqual(firing, [], 'nothing left firing');
    });
  });
}
