import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, configVariables, loadConfig, type Config } from '../src/config/index.ts';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function load(env: Record<string, string>): Readonly<Config> {
  const cwd = mkdtempSync(join(tmpdir(), 'tokenkeeper-alert-config-'));
  tempDirs.push(cwd);
  return loadConfig({ env, cwd, dotenvPath: false });
}

/** The problems, as `variable: message` lines. */
function problems(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((problem) => `${problem.variable}: ${problem.message}`);
  }
  assert.fail('expected a ConfigError');
}

const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const SMS = {
  TOKENKEEPER_TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
  TOKENKEEPER_TWILIO_AUTH_TOKEN: 'f00dfeedf00dfeedf00dfeedf00dfeed',
  TOKENKEEPER_TWILIO_FROM: '+15005550006',
  TOKENKEEPER_ALERT_SMS_TO: '+447700900123, +14155550100',
};
const PRODUCTION = {
  TOKENKEEPER_ENV: 'production',
  TOKENKEEPER_ENCRYPTION_KEYS: 'k1:q5nqXZQ3mI2lq0Ddq3XyvGqCgk0mQ9fW9yW3oXlD6dE=',
  TOKENKEEPER_PUBLIC_URL: 'https://tokens.example.com',
};

test('with nothing set, only the console channel is on, every channel severity at its default', () => {
  assert.deepEqual(load({}).alertChannels, {
    timeoutMs: 10_000,
    console: { minSeverity: 'LOW' },
    webhook: null,
    slack: null,
    email: null,
    sms: null,
    pagerduty: null,
  });
});

test('every channel configured', () => {
  const config = load({
    TOKENKEEPER_ALERT_CHANNEL_TIMEOUT_MS: '2500',
    TOKENKEEPER_ALERT_CONSOLE_MIN_SEVERITY: 'Medium',
    TOKENKEEPER_ALERT_WEBHOOK_URL: 'https://ops.example.com/hooks/tk?key=1',
    TOKENKEEPER_ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXX',
    TOKENKEEPER_ALERT_SLACK_MIN_SEVERITY: 'high',
    TOKENKEEPER_SMTP_URL: 'smtps://alerts%40example.com:p%40ss%3Aword@smtp.example.com',
    TOKENKEEPER_ALERT_EMAIL_FROM: 'Tokenkeeper <alerts@example.com>',
    TOKENKEEPER_ALERT_EMAIL_TO: 'ops@example.com,oncall@example.com, ops@example.com',
    ...SMS,
    TOKENKEEPER_TWILIO_API_URL: 'http://127.0.0.1:9999/',
    TOKENKEEPER_ALERT_SMS_MIN_SEVERITY: 'MEDIUM',
    TOKENKEEPER_PAGERDUTY_ROUTING_KEY: 'R0UT1NGKEY0123456789abcdefABCDEF',
  });
  assert.deepEqual(config.alertChannels, {
    timeoutMs: 2500,
    console: { minSeverity: 'MEDIUM' },
    webhook: { url: 'https://ops.example.com/hooks/tk?key=1', secret: WEBHOOK_SECRET, minSeverity: 'LOW' },
    slack: { webhookUrl: 'https://hooks.slack.com/services/T000/B000/XXXX', minSeverity: 'HIGH' },
    email: {
      smtp: { host: 'smtp.example.com', port: 465, secure: true, username: 'alerts@example.com', password: 'p@ss:word' },
      from: 'Tokenkeeper <alerts@example.com>',
      to: ['ops@example.com', 'oncall@example.com'],
      minSeverity: 'LOW',
    },
    sms: {
      accountSid: 'AC0123456789abcdef0123456789abcdef',
      authToken: 'f00dfeedf00dfeedf00dfeedf00dfeed',
      from: '+15005550006',
      to: ['+447700900123', '+14155550100'],
      apiUrl: 'http://127.0.0.1:9999',
      minSeverity: 'MEDIUM',
    },
    pagerduty: { routingKey: 'R0UT1NGKEY0123456789abcdefABCDEF', apiUrl: 'https://events.pagerduty.com', minSeverity: 'HIGH' },
  });
  assert.equal(load({ TOKENKEEPER_SMTP_URL: 'smtp://relay.internal', TOKENKEEPER_ALERT_EMAIL_FROM: 'a@b.c', TOKENKEEPER_ALERT_EMAIL_TO: 'd@e.f' }).alertChannels.email?.smtp.port, 587);
});

test('SMS numbers must be E.164, and the error shows how to write them', () => {
  assert.deepEqual(problems({ ...SMS, TOKENKEEPER_ALERT_SMS_TO: '07700900123' }), [
    'TOKENKEEPER_ALERT_SMS_TO: "07700900123" is not an E.164 number: write it with + and the country code and without the national leading 0, e.g. +447700900123, not 07700900123; separate several numbers with commas',
  ]);
  assert.deepEqual(problems({ ...SMS, TOKENKEEPER_ALERT_SMS_TO: '+447700900123,+44 7700 900124,0044 7700900125' }), [
    'TOKENKEEPER_ALERT_SMS_TO: "+44 7700 900124" is not an E.164 number: remove the spaces and punctuation (+447700900124); separate several numbers with commas',
    'TOKENKEEPER_ALERT_SMS_TO: "0044 7700900125" is not an E.164 number: write + instead of the leading 00 and remove the spaces and punctuation (+447700900125); separate several numbers with commas',
  ]);
  assert.deepEqual(problems({ ...SMS, TOKENKEEPER_ALERT_SMS_TO: '+447700900123,,' }), ['TOKENKEEPER_ALERT_SMS_TO: has an empty entry; separate entries with single commas']);
  const from = problems({ ...SMS, TOKENKEEPER_TWILIO_FROM: '07700900123' });
  assert.equal(from.length, 1);
  assert.match(from[0]!, /^TOKENKEEPER_TWILIO_FROM: "07700900123" is not an E\.164 number: .*e\.g\. \+447700900123.*, or an alphanumeric sender id/);
  // An alphanumeric sender id is a valid From.
  assert.equal(load({ ...SMS, TOKENKEEPER_TWILIO_FROM: 'Tokenkeeper' }).alertChannels.sms?.from, 'Tokenkeeper');
});

test('a half-configured channel is an error naming each missing variable, never a channel silently off', () => {
  assert.deepEqual(problems({ TOKENKEEPER_TWILIO_ACCOUNT_SID: SMS.TOKENKEEPER_TWILIO_ACCOUNT_SID }), [
    'TOKENKEEPER_TWILIO_AUTH_TOKEN: is required because TOKENKEEPER_TWILIO_ACCOUNT_SID is set: the SMS channel needs TOKENKEEPER_TWILIO_ACCOUNT_SID, TOKENKEEPER_TWILIO_AUTH_TOKEN, TOKENKEEPER_TWILIO_FROM and TOKENKEEPER_ALERT_SMS_TO. Set it, or unset the others to turn the channel off',
    'TOKENKEEPER_TWILIO_FROM: is required because TOKENKEEPER_TWILIO_ACCOUNT_SID is set: the SMS channel needs TOKENKEEPER_TWILIO_ACCOUNT_SID, TOKENKEEPER_TWILIO_AUTH_TOKEN, TOKENKEEPER_TWILIO_FROM and TOKENKEEPER_ALERT_SMS_TO. Set it, or unset the others to turn the channel off',
    'TOKENKEEPER_ALERT_SMS_TO: is required because TOKENKEEPER_TWILIO_ACCOUNT_SID is set: the SMS channel needs TOKENKEEPER_TWILIO_ACCOUNT_SID, TOKENKEEPER_TWILIO_AUTH_TOKEN, TOKENKEEPER_TWILIO_FROM and TOKENKEEPER_ALERT_SMS_TO. Set it, or unset the others to turn the channel off',
  ]);
  assert.deepEqual(problems({ TOKENKEEPER_ALERT_WEBHOOK_URL: 'https://ops.example.com/hook' }), [
    'TOKENKEEPER_ALERT_WEBHOOK_SECRET: is required because TOKENKEEPER_ALERT_WEBHOOK_URL is set: the webhook channel needs TOKENKEEPER_ALERT_WEBHOOK_URL and TOKENKEEPER_ALERT_WEBHOOK_SECRET. Set it, or unset the others to turn the channel off',
  ]);
  assert.match(problems({ TOKENKEEPER_ALERT_PAGERDUTY_MIN_SEVERITY: 'high' })[0]!, /^TOKENKEEPER_PAGERDUTY_ROUTING_KEY: is required because TOKENKEEPER_ALERT_PAGERDUTY_MIN_SEVERITY is set/);
  assert.equal(problems({ TOKENKEEPER_SMTP_URL: 'smtp://relay.internal' }).length, 2);
});

test('wrong values are named, explained, and secrets are never echoed', () => {
  const secrets = {
    TOKENKEEPER_ALERT_WEBHOOK_URL: 'ftp://ops.example.com/hook?token=HOOKSECRET',
    TOKENKEEPER_ALERT_WEBHOOK_SECRET: 'not-whsec-SECRETVALUE',
    TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL: 'hooks.slack.com/services/T/B/SLACKSECRET',
    TOKENKEEPER_SMTP_URL: 'http://user:SMTPSECRET@smtp.example.com',
    TOKENKEEPER_ALERT_EMAIL_FROM: 'alerts',
    TOKENKEEPER_ALERT_EMAIL_TO: 'ops@example.com,oncall',
    ...SMS,
    TOKENKEEPER_TWILIO_ACCOUNT_SID: 'SK0123',
    TOKENKEEPER_TWILIO_AUTH_TOKEN: 'short TOKENSECRET',
    TOKENKEEPER_PAGERDUTY_ROUTING_KEY: 'PDSECRETKEY',
    TOKENKEEPER_ALERT_SMS_MIN_SEVERITY: 'urgent',
    TOKENKEEPER_ALERT_CHANNEL_TIMEOUT_MS: '10s',
  };
  const lines = problems(secrets);
  const text = lines.join('\n');
  for (const secret of ['HOOKSECRET', 'SECRETVALUE', 'SLACKSECRET', 'SMTPSECRET', 'TOKENSECRET', 'PDSECRETKEY']) {
    assert.ok(!text.includes(secret), `${secret} leaked:\n${text}`);
  }
  const byVariable = (name: string): string => {
    const line = lines.find((each) => each.startsWith(`${name}: `));
    assert.ok(line, `no problem for ${name}:\n${text}`);
    return line;
  };
  assert.match(byVariable('TOKENKEEPER_ALERT_WEBHOOK_URL'), /must start with https:\/\//);
  assert.match(byVariable('TOKENKEEPER_ALERT_WEBHOOK_SECRET'), /must start with whsec_ followed by base64.*randomBytes\(32\)/);
  assert.match(byVariable('TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL'), /is not an absolute URL; use e\.g\. https:\/\/hooks\.slack\.com/);
  assert.match(byVariable('TOKENKEEPER_SMTP_URL'), /has the scheme "http:"; use smtp:\/\/user:password@smtp\.example\.com:587/);
  assert.match(byVariable('TOKENKEEPER_ALERT_EMAIL_FROM'), /"alerts" is not an e-mail address/);
  assert.match(byVariable('TOKENKEEPER_ALERT_EMAIL_TO'), /"oncall" is not an e-mail address/);
  assert.match(byVariable('TOKENKEEPER_TWILIO_ACCOUNT_SID'), /"SK0123" is not a Twilio account SID: AC followed by 32 hexadecimal digits/);
  assert.match(byVariable('TOKENKEEPER_TWILIO_AUTH_TOKEN'), /is not a Twilio auth token/);
  assert.match(byVariable('TOKENKEEPER_PAGERDUTY_ROUTING_KEY'), /32-character Integration Key .* 11 characters long/);
  assert.match(byVariable('TOKENKEEPER_ALERT_SMS_MIN_SEVERITY'), /"urgent" is not one of low, medium, high/);
  assert.match(byVariable('TOKENKEEPER_ALERT_CHANNEL_TIMEOUT_MS'), /not a whole number of milliseconds/);
});

test('webhook secrets must decode to 24-64 bytes of strict base64', () => {
  assert.match(problems({ TOKENKEEPER_ALERT_WEBHOOK_URL: 'https://x.example/h', TOKENKEEPER_ALERT_WEBHOOK_SECRET: `whsec_${Buffer.alloc(16).toString('base64')}` })[0]!, /decodes to 16 bytes; use 24-64/);
  assert.match(problems({ TOKENKEEPER_ALERT_WEBHOOK_URL: 'https://x.example/h', TOKENKEEPER_ALERT_WEBHOOK_SECRET: 'whsec_abc_def-ghi' })[0]!, /must be standard base64/);
  // The spec's own example secret (24 bytes) is accepted.
  assert.equal(load({ TOKENKEEPER_ALERT_WEBHOOK_URL: 'https://x.example/h', TOKENKEEPER_ALERT_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }).alertChannels.webhook?.minSeverity, 'LOW');
});

test('production refuses plain http to another host for URLs that carry credentials', () => {
  const lines = problems({
    ...PRODUCTION,
    TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL: 'http://hooks.slack.com/services/T/B/X',
    TOKENKEEPER_PAGERDUTY_ROUTING_KEY: 'R0UT1NGKEY0123456789abcdefABCDEF',
    TOKENKEEPER_PAGERDUTY_API_URL: 'http://pd-proxy.internal',
  });
  assert.deepEqual(lines.map((line) => line.split(':')[0]), ['TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL', 'TOKENKEEPER_PAGERDUTY_API_URL']);
  assert.ok(lines.every((line) => line.includes('must use https in production')));
  // A server on this machine may be plain http (a local relay, tests).
  assert.equal(load({ ...PRODUCTION, TOKENKEEPER_PAGERDUTY_ROUTING_KEY: 'R0UT1NGKEY0123456789abcdefABCDEF', TOKENKEEPER_PAGERDUTY_API_URL: 'http://127.0.0.1:8080' }).alertChannels.pagerduty?.apiUrl, 'http://127.0.0.1:8080');
});

test('the credentials are declared secret, and a misspelt channel variable gets a suggestion', () => {
  const secret = new Set(configVariables.filter((variable) => variable.secret).map((variable) => variable.name));
  for (const name of [
    'TOKENKEEPER_ALERT_WEBHOOK_SECRET',
    'TOKENKEEPER_ALERT_WEBHOOK_URL',
    'TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL',
    'TOKENKEEPER_SMTP_URL',
    'TOKENKEEPER_TWILIO_AUTH_TOKEN',
    'TOKENKEEPER_PAGERDUTY_ROUTING_KEY',
  ]) {
    assert.ok(secret.has(name), `${name} is secret`);
  }
  assert.deepEqual(problems({ TOKENKEEPER_ALERT_SMS_MIN_SEVERTY: 'low' }), ['TOKENKEEPER_ALERT_SMS_MIN_SEVERTY: is not a Tokenkeeper variable; did you mean TOKENKEEPER_ALERT_SMS_MIN_SEVERITY?']);
});
