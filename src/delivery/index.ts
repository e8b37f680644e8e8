/**
 * Outbound delivery shared by the alert channels and the application webhooks: Standard Webhooks
 * signing and verification; the application's events (the outbox written with each change), its
 * endpoints, and the dispatcher that delivers them.
 */
export {
  DEFAULT_TOLERANCE_SECONDS,
  generateWebhookSecret,
  MAX_WEBHOOK_SECRET_BYTES,
  MIN_WEBHOOK_SECRET_BYTES,
  parseWebhookSecret,
  signWebhook,
  verifyWebhook,
  WEBHOOK_SECRET_PREFIX,
  WebhookSecretError,
  WebhookVerificationError,
  webhookHeaders,
  type VerifyWebhookOptions,
  type WebhookHeaders,
} from './standard-webhooks.ts';
export { APP_EVENT_TYPES, DEFAULT_APP_EVENT_TYPES, isAppEventType, type AppEventType } from './app-event-types.ts';
export { appEvent } from './app-event.ts';
export { AppWebhookService, ENVIRONMENT_WEBHOOK_ID, type AppWebhookServiceOptions } from './app-webhook-service.ts';
export { WebhookDispatcher, type WebhookDispatcherOptions, type WebhooksReport } from './webhook-dispatcher.ts';
export { DEFAULT_WEBHOOK_RETRY, webhookRetryDelay, type WebhookRetryPolicy } from './webhook-backoff.ts';
export { deliveryToJson, webhookBody, webhookToJson } from './webhook-json.ts';
export { checkEventFilter, checkWebhookUrl, MAX_WEBHOOK_URL_LENGTH, webhookUrlProblem } from './webhook-input.ts';
