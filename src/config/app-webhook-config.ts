import { webhookUrlProblem } from '../delivery/webhook-input.ts';
import { readWebhookSecret } from './alert-channels-config.ts';
import type { VariableReader } from './variable-reader.ts';

/**
 * The application's webhooks as configured by the environment (docs/webhooks.md): one endpoint
 * that receives the default events, besides those created through the API, and the timeout of
 * one delivery attempt.
 */
export interface AppWebhooksConfig {
  /**
   * `TOKENKEEPER_APP_WEBHOOK_URL` + `TOKENKEEPER_APP_WEBHOOK_SECRET` (`whsec_<base64>`, 24-64
   * bytes): both or neither. Null when unset.
   */
  endpoint: { url: string; secret: string } | null;
  /** `TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS`: one attempt longer than this fails and is retried. Default 10000. */
  timeoutMs: number;
}

const URL_NAME = 'TOKENKEEPER_APP_WEBHOOK_URL';
const SECRET_NAME = 'TOKENKEEPER_APP_WEBHOOK_SECRET';

/** Reads and checks the application webhook variables; problems are recorded on `read`. */
export function readAppWebhooks(read: VariableReader): AppWebhooksConfig {
  const timeoutMs = read.integer('TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS', 10_000, { min: 100, max: 120_000, unit: 'milliseconds' });
  const url = read.string(URL_NAME);
  if (url !== null) {
    const problem = webhookUrlProblem(url);
    if (problem) read.fail(URL_NAME, problem);
  }
  const secret = readWebhookSecret(read, SECRET_NAME);
  // Both or neither: one without the other is a half-configured endpoint, never silently off.
  if (url !== null && !read.has(SECRET_NAME)) {
    read.fail(SECRET_NAME, `is required because ${URL_NAME} is set: deliveries are signed with it (Standard Webhooks); set it, or unset ${URL_NAME}`);
  }
  if (read.has(SECRET_NAME) && url === null) {
    read.fail(URL_NAME, `is required because ${SECRET_NAME} is set: it is the endpoint that receives the events; set it, or unset ${SECRET_NAME}`);
  }
  if (url === null || secret === null || read.hasProblem(URL_NAME)) return { endpoint: null, timeoutMs };
  return { endpoint: { url, secret }, timeoutMs };
}
