import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type { GroupNotification, NotifiedAlert } from '../src/alerts/channel.ts';
import {
  ChannelDeliveryError,
  createAlertChannels,
  EmailChannel,
  gsm7Length,
  isGsm7,
  PagerDutyChannel,
  SlackChannel,
  smsBody,
  SmsChannel,
  WebhookChannel,
} from '../src/alerts/channels/index.ts';
import { ManualClock } from '../src/clock.ts';
import { loadConfig } from '../src/config/index.ts';
import { generateWebhookSecret, verifyWebhook } from '../src/delivery/index.ts';
import { createMemoryLogger } from '../src/logger.ts';
import { httpServer as localHttpServer, parseMail, smtpServer as localSmtpServer, type Answer, type Closers, type Received } from './helpers/protocol-servers.ts';

// Real local servers speaking each provider's protocol; every one is closed in `after`.
const closers: Closers = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

const httpServer = (answer: (request: Received) => Answer) => localHttpServer(closers, answer);

const T0 = '2030-01-02T03:04:05.000Z';

function alert(overrides: Partial<NotifiedAlert> = {}): NotifiedAlert {
  return {
    type: 'connection_needs_reauth',
    key: 'conn_01',
    severity: 'HIGH',
    labels: { integration: 'google', provider: 'google' },
    summary: 'Connection conn_01 (google) needs re-authorization',
    state: 'firing',
    firstSeenAt: T0,
    lastSeenAt: T0,
    ...overrides,
  };
}

function notification(overrides: Partial<GroupNotification> = {}): GroupNotification {
  return {
    id: 'ntf_01HZZZ',
    groupKey: 'connection_needs_reauth/integration=google',
    kind: 'firing',
    severity: 'HIGH',
    title: '[FIRING:2] connection_needs_reauth google',
    text: '2 google connections need re-authorization',
    groupLabels: { integration: 'google' },
    alerts: [alert(), alert({ key: 'conn_02', summary: 'Connection conn_02 (google) needs re-authorization' })],
    createdAt: T0,
    ...overrides,
  };
}

function resolvedNotification(): GroupNotification {
  return notification({
    id: 'ntf_02',
    kind: 'resolved',
    title: '[RESOLVED] connection_needs_reauth google',
    text: '2 google connections were re-authorized',
    alerts: notification().alerts.map((each) => ({ ...each, state: 'resolved' as const, resolvedAt: '2030-01-02T04:00:00.000Z' })),
  });
}

const live = (): AbortSignal => new AbortController().signal;

async function failureOf(promise: Promise<unknown>): Promise<ChannelDeliveryError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ChannelDeliveryError, `expected ChannelDeliveryError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the send to fail');
}

describe('webhook channel (Standard Webhooks)', () => {
  test('POSTs the JSON body with headers the receiver verifies, by the library and by hand', async () => {
    const secret = generateWebhookSecret();
    const clock = new ManualClock(Date.parse(T0) + 1_500);
    const verified: string[] = [];
    const receiver = await httpServer((request) => {
      // What a receiver does with the standardwebhooks libraries:
      verified.push(verifyWebhook(secret, request.headers as Record<string, string>, request.body, { nowMs: clock.now() }));
      // And by hand, with nothing of Tokenkeeper's: HMAC-SHA256 over "id.timestamp.body", base64-decoded key.
      const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
      const expected = createHmac('sha256', key).update(`${request.headers['webhook-id']}.${request.headers['webhook-timestamp']}.${request.body}`).digest('base64');
      assert.equal(request.headers['webhook-signature'], `v1,${expected}`);
      return { status: 204 };
    });
    const channel = new WebhookChannel({ url: `${receiver.url}/hooks/tk?token=abc`, secret, timeoutMs: 5_000, clock });
    assert.equal(channel.minSeverity, 'LOW');
    await channel.send(notification(), live());

    assert.deepEqual(verified, ['ntf_01HZZZ']);
    const [request] = receiver.requests;
    assert.equal(request!.method, 'POST');
    assert.equal(request!.url, '/hooks/tk?token=abc');
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['webhook-id'], 'ntf_01HZZZ');
    assert.equal(request!.headers['webhook-timestamp'], String(Math.floor(clock.now() / 1000)));
    const body = JSON.parse(request!.body);
    assert.equal(body.type, 'alert.firing');
    assert.equal(body.timestamp, T0);
    assert.equal(body.data.group_key, 'connection_needs_reauth/integration=google');
    assert.equal(body.data.text, '2 google connections need re-authorization');
    assert.deepEqual(body.data.group_labels, { integration: 'google' });
    assert.deepEqual(body.data.alerts[0], {
      type: 'connection_needs_reauth',
      key: 'conn_01',
      severity: 'HIGH',
      state: 'firing',
      summary: 'Connection conn_01 (google) needs re-authorization',
      labels: { integration: 'google', provider: 'google' },
      first_seen_at: T0,
      last_seen_at: T0,
      resolved_at: null,
    });
  });

  test('a non-2xx answer is a typed failure naming only the origin', async () => {
    const receiver = await httpServer(() => ({ status: 500, body: 'boom' }));
    const channel = new WebhookChannel({ url: `${receiver.url}/secret-path?token=s3cr3t-value`, secret: generateWebhookSecret(), timeoutMs: 5_000 });
    const error = await failureOf(channel.send(notification(), live()));
    assert.equal(error.code, 'http_status');
    assert.equal(error.status, 500);
    assert.equal(error.retryable, true);
    assert.equal(error.channel, 'webhook');
    assert.match(error.message, /^webhook: POST http:\/\/127\.0\.0\.1:\d+ answered 500: boom$/);
    assert.ok(!error.message.includes('s3cr3t') && !error.message.includes('secret-path'));
  });
});

describe('Slack incoming webhook', () => {
  test('POSTs {text, blocks} as JSON; the fallback text carries the summary', async () => {
    const slack = await httpServer(() => ({ status: 200, body: 'ok', contentType: 'text/html' }));
    const channel = new SlackChannel({ webhookUrl: `${slack.url}/services/T000/B000/XXXXSECRET`, timeoutMs: 5_000 });
    await channel.send(notification(), live());
    await channel.send(resolvedNotification(), live());

    assert.equal(slack.requests.length, 2);
    const [firing, resolved] = slack.requests.map((request) => request);
    assert.equal(firing!.method, 'POST');
    assert.equal(firing!.url, '/services/T000/B000/XXXXSECRET');
    assert.equal(firing!.headers['content-type'], 'application/json');
    const message = JSON.parse(firing!.body);
    assert.deepEqual(Object.keys(message).sort(), ['blocks', 'text']);
    assert.match(message.text, /FIRING: 2 google connections need re-authorization/);
    assert.equal(message.blocks[0].type, 'header');
    assert.equal(message.blocks[0].text.type, 'plain_text');
    assert.equal(message.blocks[0].text.text, '[FIRING:2] connection_needs_reauth google');
    const sectionTexts = message.blocks.filter((block: { type: string }) => block.type === 'section').map((block: { text: { text: string } }) => block.text.text).join('\n');
    assert.match(sectionTexts, /conn_01/);
    assert.match(sectionTexts, /conn_02/);
    assert.match(JSON.parse(resolved!.body).text, /RESOLVED: 2 google connections were re-authorized/);
  });

  test("Slack's refusal (404 no_service) is a non-retryable failure that does not show the URL's secret path", async () => {
    const slack = await httpServer(() => ({ status: 404, body: 'no_service', contentType: 'text/html' }));
    const channel = new SlackChannel({ webhookUrl: `${slack.url}/services/T000/B000/XXXXSECRET`, timeoutMs: 5_000 });
    const error = await failureOf(channel.send(notification(), live()));
    assert.equal(error.code, 'http_status');
    assert.equal(error.status, 404);
    assert.equal(error.retryable, false);
    assert.match(error.message, /no_service/);
    assert.ok(!error.message.includes('XXXXSECRET') && !error.message.includes('/services/'), error.message);
  });
});

describe('e-mail over SMTP (nodemailer)', () => {
  const smtpServer = (options: { refuse?: string } = {}) => localSmtpServer(closers, { username: 'alerts', password: 'p@ss:w0rd/secret', ...options });
  const parse = parseMail;

  test('the SMTP server receives one mail for all recipients, authenticated, with the title as subject', async () => {
    const smtp = await smtpServer();
    const channel = new EmailChannel({
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, username: 'alerts', password: 'p@ss:w0rd/secret' },
      from: 'Tokenkeeper <alerts@example.test>',
      to: ['ops@example.test', 'oncall@example.test'],
      timeoutMs: 5_000,
    });
    closers.push(() => channel.close());
    await channel.send(notification(), live());

    assert.equal(smtp.mails.length, 1);
    const [mail] = smtp.mails;
    assert.equal(mail!.user, 'alerts');
    assert.equal(mail!.from, 'alerts@example.test');
    assert.deepEqual(mail!.to, ['ops@example.test', 'oncall@example.test']);
    const { headers, text } = parse(mail!.raw);
    assert.match(headers, /^Subject: \[FIRING:2\] connection_needs_reauth google$/m);
    assert.match(headers, /^From: Tokenkeeper <alerts@example\.test>$/m);
    assert.match(headers, /^To: ops@example\.test, oncall@example\.test$/m);
    assert.match(headers, /^X-Tokenkeeper-Notification: ntf_01HZZZ$/m);
    assert.match(text, /FIRING: 2 google connections need re-authorization/);
    assert.match(text, /\[HIGH\] connection_needs_reauth conn_02: Connection conn_02 \(google\) needs re-authorization/);
  });

  test('a wrong password and a refused recipient are non-retryable failures that never show the password', async () => {
    const smtp = await smtpServer({ refuse: 'gone@example.test' });
    const wrong = new EmailChannel({
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, username: 'alerts', password: 'wrong-secret-pw' },
      from: 'alerts@example.test',
      to: ['ops@example.test'],
      timeoutMs: 5_000,
    });
    closers.push(() => wrong.close());
    const auth = await failureOf(wrong.send(notification(), live()));
    assert.equal(auth.code, 'rejected');
    assert.equal(auth.retryable, false);
    assert.ok(!auth.message.includes('wrong-secret-pw'), auth.message);

    const partial = new EmailChannel({
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, username: 'alerts', password: 'p@ss:w0rd/secret' },
      from: 'alerts@example.test',
      to: ['ops@example.test', 'gone@example.test'],
      timeoutMs: 5_000,
    });
    closers.push(() => partial.close());
    const refused = await failureOf(partial.send(notification(), live()));
    assert.equal(refused.code, 'rejected');
    assert.equal(refused.retryable, false);
    assert.match(refused.message, /gone@example\.test/);
    assert.deepEqual(smtp.mails.map((mail) => mail.to), [['ops@example.test']]);
  });
});

describe('SMS through the Twilio Messages API', () => {
  const SID = 'AC0123456789abcdef0123456789abcdef';
  const TOKEN = 'f00dfeedf00dfeedf00dfeedf00dfeed';

  function twilio(fail: (to: string) => Answer | null = () => null) {
    return httpServer((request) => {
      const to = new URLSearchParams(request.body).get('To') ?? '';
      return fail(to) ?? { status: 201, body: JSON.stringify({ sid: `SM${'0'.repeat(32)}`, status: 'queued', to }) };
    });
  }

  test('one form-encoded POST per number, Basic auth with the account SID, a one-segment GSM-7 body', async () => {
    const server = await twilio();
    const channel = new SmsChannel({ accountSid: SID, authToken: TOKEN, from: '+15005550006', to: ['+447700900123', '+14155550100'], apiUrl: server.url, timeoutMs: 5_000 });
    assert.equal(channel.minSeverity, 'HIGH');
    await channel.send(notification(), live());

    assert.equal(server.requests.length, 2);
    for (const [index, request] of server.requests.entries()) {
      assert.equal(request.method, 'POST');
      assert.equal(request.url, `/2010-04-01/Accounts/${SID}/Messages.json`);
      assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.equal(request.headers.authorization, `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
      const form = new URLSearchParams(request.body);
      assert.deepEqual([...form.keys()].sort(), ['Body', 'From', 'To']);
      assert.equal(form.get('To'), ['+447700900123', '+14155550100'][index]);
      assert.equal(form.get('From'), '+15005550006');
      assert.equal(form.get('Body'), 'Tokenkeeper HIGH: 2 google connections need re-authorization');
    }
  });

  test('a long or non-GSM text is made to fit one 160-character GSM-7 segment', () => {
    const body = smsBody(notification({ text: `“Google” connections — ${'x'.repeat(300)} … ✓` }));
    assert.ok(isGsm7(body), body);
    assert.ok(gsm7Length(body) <= 160, `${gsm7Length(body)} septets`);
    assert.match(body, /^Tokenkeeper HIGH: "Google" connections - x+\.\.\.$/);
    assert.equal(smsBody(notification({ kind: 'resolved', text: 'Müller’s connection recovered' })), "Tokenkeeper RESOLVED: Müller's connection recovered");
  });

  test("a failed number fails the send; the retry texts only that number, and Twilio's error never shows the token", async () => {
    let failNext = true;
    const server = await twilio((to) => {
      if (to === '+14155550100' && failNext) {
        failNext = false;
        return { status: 503, body: JSON.stringify({ code: 20503, message: 'Service unavailable', status: 503 }) };
      }
      return null;
    });
    const channel = new SmsChannel({ accountSid: SID, authToken: TOKEN, from: '+15005550006', to: ['+447700900123', '+14155550100'], apiUrl: server.url, timeoutMs: 5_000 });
    const error = await failureOf(channel.send(notification(), live()));
    assert.equal(error.code, 'http_status');
    assert.equal(error.retryable, true);
    assert.match(error.message, /1 of 2 messages failed/);
    await channel.send(notification(), live());
    assert.deepEqual(server.requests.map((request) => new URLSearchParams(request.body).get('To')), ['+447700900123', '+14155550100', '+14155550100']);

    const refusing = await httpServer(() => ({ status: 401, body: JSON.stringify({ code: 20003, message: `Authenticate ${TOKEN}`, status: 401 }) }));
    const bad = new SmsChannel({ accountSid: SID, authToken: TOKEN, from: '+15005550006', to: ['+447700900123'], apiUrl: refusing.url, timeoutMs: 5_000 });
    const refused = await failureOf(bad.send(notification(), live()));
    assert.equal(refused.retryable, false);
    assert.match(refused.message, /answered 401/);
    assert.ok(!refused.message.includes(TOKEN), refused.message);
  });
});

describe('PagerDuty Events API v2', () => {
  const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

  test('trigger then resolve, one event per alert, dedup_key = type/key', async () => {
    const pagerduty = await httpServer((request) => ({
      status: 202,
      body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: JSON.parse(request.body).dedup_key }),
    }));
    const channel = new PagerDutyChannel({ routingKey: ROUTING_KEY, apiUrl: pagerduty.url, source: 'tokens.example.com', timeoutMs: 5_000 });
    assert.equal(channel.minSeverity, 'HIGH');
    await channel.send(notification(), live());
    await channel.send(resolvedNotification(), live());

    assert.equal(pagerduty.requests.length, 4);
    for (const request of pagerduty.requests) {
      assert.equal(request.method, 'POST');
      assert.equal(request.url, '/v2/enqueue');
      assert.equal(request.headers['content-type'], 'application/json');
    }
    const events = pagerduty.requests.map((request) => JSON.parse(request.body));
    const triggers = events.slice(0, 2).sort((a, b) => a.dedup_key.localeCompare(b.dedup_key));
    assert.deepEqual(triggers[0], {
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'connection_needs_reauth/conn_01',
      payload: {
        summary: 'Connection conn_01 (google) needs re-authorization',
        source: 'tokens.example.com',
        severity: 'critical',
        timestamp: T0,
        component: 'google',
        group: 'google',
        class: 'connection_needs_reauth',
        custom_details: {
          alert_key: 'conn_01',
          labels: { integration: 'google', provider: 'google' },
          group_key: 'connection_needs_reauth/integration=google',
          notification_id: 'ntf_01HZZZ',
          first_seen_at: T0,
          last_seen_at: T0,
        },
      },
      client: 'Tokenkeeper',
    });
    assert.equal(triggers[1].dedup_key, 'connection_needs_reauth/conn_02');
    const resolves = events.slice(2).sort((a, b) => a.dedup_key.localeCompare(b.dedup_key));
    assert.deepEqual(resolves, [
      { routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'connection_needs_reauth/conn_01' },
      { routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'connection_needs_reauth/conn_02' },
    ]);
  });

  test('PagerDuty refusing the event (400) is a non-retryable failure without the routing key', async () => {
    const pagerduty = await httpServer((request) => ({
      status: 400,
      body: JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: [`bad routing key ${JSON.parse(request.body).routing_key}`] }),
    }));
    const channel = new PagerDutyChannel({ routingKey: ROUTING_KEY, apiUrl: pagerduty.url, source: 'tokens.example.com', timeoutMs: 5_000 });
    const error = await failureOf(channel.send(notification({ alerts: [alert()] }), live()));
    assert.equal(error.code, 'http_status');
    assert.equal(error.status, 400);
    assert.equal(error.retryable, false);
    assert.match(error.message, /invalid event/);
    assert.ok(!error.message.includes(ROUTING_KEY), error.message);
  });
});

describe('failures every channel shares', () => {
  test('a server that never answers: the send times out and reports it, it does not hang', async () => {
    const hanging = await httpServer(() => 'hang');
    const channels = [
      new WebhookChannel({ url: hanging.url, secret: generateWebhookSecret(), timeoutMs: 300 }),
      new SlackChannel({ webhookUrl: `${hanging.url}/services/x`, timeoutMs: 300 }),
      new SmsChannel({ accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'f00dfeedf00dfeedf00dfeedf00dfeed', from: '+15005550006', to: ['+447700900123'], apiUrl: hanging.url, timeoutMs: 300 }),
      new PagerDutyChannel({ routingKey: 'R0UT1NGKEY0123456789abcdefABCDEF', apiUrl: hanging.url, source: 'x', timeoutMs: 300 }),
    ];
    for (const channel of channels) {
      const error = await failureOf(channel.send(notification({ alerts: [alert()] }), live()));
      assert.equal(error.code, 'timeout', `${channel.name}: ${error.message}`);
      assert.equal(error.retryable, true);
      assert.match(error.message, new RegExp(`^${channel.name}: no answer from http://127\\.0\\.0\\.1:\\d+ within 300 ms$`));
    }
  });

  test('an SMTP server that accepts the connection but never greets: the send times out', async () => {
    const { createServer: createTcpServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const channel = new EmailChannel({
      smtp: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port, secure: false, username: null, password: null },
      from: 'alerts@example.test',
      to: ['ops@example.test'],
      timeoutMs: 300,
    });
    const error = await failureOf(channel.send(notification(), live()));
    assert.equal(error.code, 'timeout', error.message);
  });

  test("the engine's abort ends a send at once, as `aborted`", async () => {
    const hanging = await httpServer(() => 'hang');
    const channel = new WebhookChannel({ url: hanging.url, secret: generateWebhookSecret(), timeoutMs: 60_000 });
    const controller = new AbortController();
    const sending = channel.send(notification(), controller.signal);
    setTimeout(() => controller.abort(), 50);
    const error = await failureOf(sending);
    assert.equal(error.code, 'aborted');
  });

  test('nothing listening: a network failure', async () => {
    const gone = await httpServer(() => ({ status: 200 }));
    await closers.pop()!();
    const channel = new SlackChannel({ webhookUrl: `${gone.url}/services/T/B/SECRETPART`, timeoutMs: 2_000 });
    const error = await failureOf(channel.send(notification(), live()));
    assert.equal(error.code, 'network');
    assert.match(error.message, /ECONNREFUSED/);
    assert.ok(!error.message.includes('SECRETPART'));
  });
});

describe('the factory', () => {
  test('the configured set, built from the environment, delivers to each server', async () => {
    const hook = await httpServer(() => ({ status: 200 }));
    const slack = await httpServer(() => ({ status: 200, body: 'ok' }));
    const twilio = await httpServer(() => ({ status: 201, body: '{}' }));
    const pagerduty = await httpServer(() => ({ status: 202, body: '{"status":"success"}' }));
    const secret = generateWebhookSecret();
    const config = loadConfig({
      dotenvPath: false,
      env: {
        TOKENKEEPER_ALERT_WEBHOOK_URL: `${hook.url}/in`,
        TOKENKEEPER_ALERT_WEBHOOK_SECRET: secret,
        TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL: `${slack.url}/services/T/B/X`,
        TOKENKEEPER_TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
        TOKENKEEPER_TWILIO_AUTH_TOKEN: 'f00dfeedf00dfeedf00dfeedf00dfeed',
        TOKENKEEPER_TWILIO_FROM: '+15005550006',
        TOKENKEEPER_ALERT_SMS_TO: '+447700900123',
        TOKENKEEPER_TWILIO_API_URL: twilio.url,
        TOKENKEEPER_PAGERDUTY_ROUTING_KEY: 'R0UT1NGKEY0123456789abcdefABCDEF',
        TOKENKEEPER_PAGERDUTY_API_URL: pagerduty.url,
        TOKENKEEPER_ALERT_PAGERDUTY_MIN_SEVERITY: 'medium',
      },
    });
    const channels = createAlertChannels(config.alertChannels, { logger: createMemoryLogger(), publicUrl: config.publicUrl });
    assert.deepEqual(
      channels.map((channel) => [channel.name, channel.minSeverity]),
      [['console', 'LOW'], ['webhook', 'LOW'], ['slack', 'LOW'], ['sms', 'HIGH'], ['pagerduty', 'MEDIUM']],
    );
    for (const channel of channels) await channel.send(notification(), live());
    assert.equal(hook.requests.length, 1);
    verifyWebhook(secret, hook.requests[0]!.headers as Record<string, string>, hook.requests[0]!.body);
    assert.equal(slack.requests.length, 1);
    assert.equal(twilio.requests.length, 1);
    assert.equal(pagerduty.requests.length, 2);
    assert.equal(JSON.parse(pagerduty.requests[0]!.body).payload.source, 'localhost:3170');
  });
});
