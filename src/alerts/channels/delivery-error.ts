/**
 * The one failure a channel's `send` rejects with, so the policy engine can record the attempt
 * (channel, status, error) and decide whether to retry, without parsing messages.
 *
 * - `timeout`: no answer within the channel's request timeout (a hanging server);
 * - `aborted`: the engine aborted the send (its own deadline, or shutdown);
 * - `network`: no connection (refused, DNS, TLS, reset);
 * - `http_status`: the server answered with a non-success status (`status` set);
 * - `rejected`: the provider answered but refused the message (an SMTP 5xx, a PagerDuty `invalid
 *   event`, some SMS recipients refused);
 *
 * `retryable` is false only when trying the same message again cannot help (4xx other than 408
 * and 429, a permanent SMTP refusal). The message never holds a secret: URLs are shown as their
 * origin only, and every configured secret is scrubbed from it (`scrubSecrets`).
 */
export type ChannelFailureCode = 'timeout' | 'aborted' | 'network' | 'http_status' | 'rejected';

export class ChannelDeliveryError extends Error {
  readonly channel: string;
  readonly code: ChannelFailureCode;
  readonly retryable: boolean;
  /** The HTTP (or SMTP) status, when the server answered. */
  readonly status: number | undefined;

  constructor(channel: string, code: ChannelFailureCode, message: string, options: { status?: number; retryable?: boolean } = {}) {
    super(`${channel}: ${message}`);
    this.name = 'ChannelDeliveryError';
    this.channel = channel;
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? true;
  }
}

/** Whether `error` is a channel's typed failure (also across module copies). */
export function isChannelDeliveryError(error: unknown): error is ChannelDeliveryError {
  return error instanceof Error && error.name === 'ChannelDeliveryError' && typeof (error as { channel?: unknown }).channel === 'string';
}

/** `text` with every non-empty secret (and its URL-encoded form) replaced by `[redacted]`. */
export function scrubSecrets(text: string, secrets: readonly (string | null | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('[redacted]');
  }
  return out;
}

/** `https://hooks.slack.com`: what an error may say about where it sent, without path or query
 * (a Slack webhook's path is its secret) or user info. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
