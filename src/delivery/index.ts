/**
 * Outbound delivery shared by the alert channels and the application webhooks: Standard Webhooks
 * signing and verification.
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
