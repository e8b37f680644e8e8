import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import {
  generateWebhookSecret,
  parseWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookSecretError,
  WebhookVerificationError,
  webhookHeaders,
} from '../src/delivery/index.ts';

// The example of the Standard Webhooks reference libraries' tests (standard-webhooks/standard-webhooks,
// libraries/*: "sign function works"): this secret, id, timestamp and body give this signature.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

test('signing reproduces the Standard Webhooks example signature', () => {
  assert.equal(signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body), SPEC.signature);
  assert.equal(signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, Buffer.from(SPEC.body)), SPEC.signature);
  // The prefix is optional, as in the reference libraries.
  assert.equal(signWebhook(SPEC.secret.slice('whsec_'.length), SPEC.id, SPEC.timestamp, SPEC.body), SPEC.signature);
  assert.deepEqual(webhookHeaders(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body), {
    'webhook-id': SPEC.id,
    'webhook-timestamp': '1614265330',
    'webhook-signature': SPEC.signature,
  });
});

test('the signature is what an independent HMAC-SHA256 of "id.timestamp.body" gives', () => {
  const secret = generateWebhookSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const body = JSON.stringify({ type: 'alert.firing', data: { text: 'ünïcode ✓' } });
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`msg_1.1700000000.${body}`, 'utf8').digest('base64');
  assert.equal(signWebhook(secret, 'msg_1', 1700000000, body), `v1,${expected}`);
});

test('verification accepts the example and refuses tampering, wrong secrets and stale or future timestamps', () => {
  const nowMs = SPEC.timestamp * 1000;
  const headers = { 'webhook-id': SPEC.id, 'webhook-timestamp': String(SPEC.timestamp), 'webhook-signature': SPEC.signature };
  assert.equal(verifyWebhook(SPEC.secret, headers, SPEC.body, { nowMs }), SPEC.id);
  // Header names in any case, a Headers object, several signatures (rotation), unknown versions skipped.
  assert.equal(verifyWebhook(SPEC.secret, new Headers(headers), SPEC.body, { nowMs }), SPEC.id);
  assert.equal(
    verifyWebhook(SPEC.secret, { 'Webhook-Id': SPEC.id, 'Webhook-Timestamp': String(SPEC.timestamp), 'Webhook-Signature': `v2,abc v1,bm90IGl0 ${SPEC.signature}` }, SPEC.body, { nowMs }),
    SPEC.id,
  );

  const reason = (fn: () => unknown): string => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof WebhookVerificationError, String(error));
      return error.reason;
    }
    return 'accepted';
  };
  assert.equal(reason(() => verifyWebhook(SPEC.secret, headers, '{"test": 2432232315}', { nowMs })), 'no_matching_signature');
  assert.equal(reason(() => verifyWebhook(generateWebhookSecret(), headers, SPEC.body, { nowMs })), 'no_matching_signature');
  assert.equal(reason(() => verifyWebhook(SPEC.secret, { ...headers, 'webhook-id': 'msg_other' }, SPEC.body, { nowMs })), 'no_matching_signature');
  assert.equal(reason(() => verifyWebhook(SPEC.secret, { ...headers, 'webhook-signature': SPEC.signature.replace('v1,', 'v2,') }, SPEC.body, { nowMs })), 'no_matching_signature');
  assert.equal(reason(() => verifyWebhook(SPEC.secret, headers, SPEC.body, { nowMs: nowMs + 301_000 })), 'timestamp_too_old');
  assert.equal(reason(() => verifyWebhook(SPEC.secret, headers, SPEC.body, { nowMs: nowMs - 301_000 })), 'timestamp_too_new');
  assert.equal(reason(() => verifyWebhook(SPEC.secret, { ...headers, 'webhook-timestamp': '2021-02-25' }, SPEC.body, { nowMs })), 'invalid_timestamp');
  assert.equal(reason(() => verifyWebhook(SPEC.secret, { 'webhook-id': SPEC.id }, SPEC.body, { nowMs })), 'missing_headers');
  // Within the default five minutes either way.
  assert.equal(reason(() => verifyWebhook(SPEC.secret, headers, SPEC.body, { nowMs: nowMs + 299_000 })), 'accepted');
});

test('headers signed with two secrets verify with either (secret rotation)', () => {
  const oldSecret = generateWebhookSecret();
  const newSecret = generateWebhookSecret();
  const body = '{"a":1}';
  const now = Math.floor(Date.now() / 1000);
  const headers = webhookHeaders([newSecret, oldSecret], 'msg_rot', now, body);
  assert.equal(headers['webhook-signature'].split(' ').length, 2);
  assert.equal(verifyWebhook(oldSecret, headers, body), 'msg_rot');
  assert.equal(verifyWebhook(newSecret, headers, body), 'msg_rot');
});

test('a secret that is not whsec_<base64> is refused without echoing it', () => {
  assert.throws(() => parseWebhookSecret('whsec_'), WebhookSecretError);
  assert.throws(() => parseWebhookSecret('whsec_Q'), WebhookSecretError);
  for (const bad of ['whsec_SECRETnot base64!', 'whsec_SECRETabc*def', 'whsec_SECRET-url_safe']) {
    assert.throws(() => parseWebhookSecret(bad), (error: unknown) => error instanceof WebhookSecretError && !error.message.includes('SECRET'));
  }
  assert.equal(parseWebhookSecret(SPEC.secret).length, 24);
});

test('the verification snippet in docs/alerts.md accepts what Tokenkeeper signs and refuses a forgery', async () => {
  const doc = readFileSync(new URL('../docs/alerts.md', import.meta.url), 'utf8');
  const marker = doc.indexOf('<!-- snippet run by test/standard-webhooks.test.ts -->');
  assert.ok(marker >= 0, 'the snippet marker is in docs/alerts.md');
  const code = /```js\n([\s\S]*?)```/.exec(doc.slice(marker))![1]!;
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-snippet-'));
  try {
    const file = join(dir, 'verify.mjs');
    writeFileSync(file, `${code}\nexport { verifyTokenkeeperWebhook };\n`);
    const { verifyTokenkeeperWebhook } = (await import(pathToFileURL(file).href)) as {
      verifyTokenkeeperWebhook: (secret: string, headers: Record<string, string>, rawBody: string, nowSeconds?: number) => unknown;
    };
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ type: 'alert.firing', data: { text: 'ünïcode ✓' } });
    const now = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders(secret, 'ntf_1', now, body);
    assert.deepEqual(verifyTokenkeeperWebhook(secret, headers, body), JSON.parse(body));
    assert.deepEqual(verifyTokenkeeperWebhook(SPEC.secret, { 'webhook-id': SPEC.id, 'webhook-timestamp': String(SPEC.timestamp), 'webhook-signature': SPEC.signature }, SPEC.body, SPEC.timestamp), { test: 2432232314 });
    assert.throws(() => verifyTokenkeeperWebhook(secret, headers, body.replace('firing', 'resolved')), /invalid signature/);
    assert.throws(() => verifyTokenkeeperWebhook(generateWebhookSecret(), headers, body), /invalid signature/);
    assert.throws(() => verifyTokenkeeperWebhook(secret, headers, body, now + 600), /timestamp/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
