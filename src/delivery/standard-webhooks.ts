import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signing and verifying webhooks the way the Standard Webhooks specification says
 * (https://www.standardwebhooks.com, spec/standard-webhooks.md), so that a receiver can check
 * Tokenkeeper's requests with any of the `standardwebhooks` libraries, or with a few lines of its
 * own (docs/alerts.md):
 *
 * - three headers: `webhook-id` (the message id, the same on every retry, for de-duplication),
 *   `webhook-timestamp` (integer seconds since the epoch) and `webhook-signature`;
 * - the signature is `v1,` followed by the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` (the
 *   exact body bytes sent), keyed with the base64-decoded part of a `whsec_<base64>` secret;
 * - the signature header may list several space-separated signatures (during a secret rotation);
 *   a receiver accepts the message when any `v1` one matches, and refuses timestamps more than
 *   five minutes away from its clock (replay protection).
 *
 * Used by the alert webhook channel and by the application webhooks.
 */

/** The prefix of a Standard Webhooks secret. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** The spec's recommended secret sizes: at least 24 bytes (192 bits), at most 64. */
export const MIN_WEBHOOK_SECRET_BYTES = 24;
export const MAX_WEBHOOK_SECRET_BYTES = 64;

/** The receiver's tolerance for `webhook-timestamp`, as the reference libraries use it. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** The headers of a signed request, lower case as the spec writes them (a type, so it is also a
 * plain string record for `fetch` and `verifyWebhook`). */
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** Why `parseWebhookSecret` refused a secret. The message never contains the secret. */
export class WebhookSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSecretError';
  }
}

/** Why `verifyWebhook` refused a message; `reason` is stable, for tests and logs. */
export class WebhookVerificationError extends Error {
  readonly reason: 'missing_headers' | 'invalid_timestamp' | 'timestamp_too_old' | 'timestamp_too_new' | 'no_matching_signature';
  constructor(reason: WebhookVerificationError['reason'], message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.reason = reason;
  }
}

/**
 * The HMAC key of a `whsec_<base64>` secret (the prefix is optional, as in the reference
 * libraries). Strict base64: a secret mangled by copy-paste is an error here, not a key that
 * silently signs with different bytes than the receiver's.
 */
export function parseWebhookSecret(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  if (encoded === '' || !BASE64.test(encoded)) {
    throw new WebhookSecretError(`is not ${WEBHOOK_SECRET_PREFIX}<base64>: the part after ${WEBHOOK_SECRET_PREFIX} must be standard base64 (A-Z a-z 0-9 + /, optional = padding)`);
  }
  return Buffer.from(encoded, 'base64');
}

/** A new random secret, `whsec_` + base64 of 32 bytes, as `tokenkeeper` prints it. */
export function generateWebhookSecret(bytes = 32): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(bytes).toString('base64')}`;
}

/** `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`. */
export function signWebhook(secret: string | Buffer, id: string, timestampSeconds: number, body: string | Buffer): string {
  const key = typeof secret === 'string' ? parseWebhookSecret(secret) : secret;
  const hmac = createHmac('sha256', key);
  hmac.update(`${id}.${Math.floor(timestampSeconds)}.`);
  hmac.update(body);
  return `v1,${hmac.digest('base64')}`;
}

/**
 * The three headers for one delivery. Every secret in `secrets` signs (space-separated), so a
 * receiver still holding the old secret during a rotation keeps verifying.
 */
export function webhookHeaders(secrets: string | Buffer | readonly (string | Buffer)[], id: string, timestampSeconds: number, body: string | Buffer): WebhookHeaders {
  const list = Array.isArray(secrets) ? secrets : [secrets as string | Buffer];
  const timestamp = Math.floor(timestampSeconds);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': list.map((secret) => signWebhook(secret, id, timestamp, body)).join(' '),
  };
}

export interface VerifyWebhookOptions {
  /** The receiver's clock in milliseconds. Default `Date.now()`. */
  nowMs?: number;
  /** Accepted distance between `webhook-timestamp` and the clock. Default 300 s. */
  toleranceSeconds?: number;
}

/**
 * Checks a received message as a receiver should: required headers, a timestamp within the
 * tolerance, and at least one `v1` signature equal (in constant time) to the one computed from
 * the raw body. Throws `WebhookVerificationError`; returns the message id on success.
 * `headers` may be a `Headers` object or a plain object with names in any case.
 */
export function verifyWebhook(
  secret: string | Buffer,
  headers: Headers | Record<string, string | string[] | undefined>,
  body: string | Buffer,
  options: VerifyWebhookOptions = {},
): string {
  const read = (name: string): string | undefined => {
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    for (const [key, value] of Object.entries(headers)) {
      if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(' ') : value;
    }
    return undefined;
  };
  const id = read('webhook-id');
  const timestampText = read('webhook-timestamp');
  const signatures = read('webhook-signature');
  if (!id || !timestampText || !signatures) {
    throw new WebhookVerificationError('missing_headers', 'webhook-id, webhook-timestamp and webhook-signature are required');
  }
  if (!/^\d{1,15}$/.test(timestampText)) {
    throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not integer seconds since the epoch');
  }
  const timestamp = Number(timestampText);
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (now - timestamp > tolerance) throw new WebhookVerificationError('timestamp_too_old', 'webhook-timestamp is too old');
  if (timestamp - now > tolerance) throw new WebhookVerificationError('timestamp_too_new', 'webhook-timestamp is in the future');

  const expected = Buffer.from(signWebhook(secret, id, timestamp, body).slice('v1,'.length), 'base64');
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return id;
  }
  throw new WebhookVerificationError('no_matching_signature', 'no v1 signature matches the body');
}
