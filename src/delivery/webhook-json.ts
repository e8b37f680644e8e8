import type { AppWebhookRecord, WebhookDeliveryRecord } from '../store/index.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The public shape of an endpoint: never its secret (shown once, when created). */
export function webhookToJson(record: AppWebhookRecord): Record<string, unknown> {
  return {
    id: record.id,
    url: record.url,
    events: record.events,
    source: record.source,
    created_at: iso(record.createdAt),
    updated_at: iso(record.updatedAt),
  };
}

/** One line of an endpoint's delivery log. */
export function deliveryToJson(record: WebhookDeliveryRecord): Record<string, unknown> {
  return {
    id: record.id,
    webhook_id: record.webhookId,
    event_id: record.eventId,
    event_type: record.eventType,
    status: record.status,
    attempts: record.attempts,
    last_attempt_at: iso(record.lastAttemptAt),
    response_status: record.responseStatus,
    last_error: record.lastError,
    next_attempt_at: iso(record.nextAttemptAt),
    retry_until: iso(record.retryUntil),
    delivered_at: iso(record.deliveredAt),
    created_at: iso(record.createdAt),
  };
}

/**
 * The body of every delivery of an event, the same bytes on every retry: the event id (also the
 * `webhook-id` header), its type, when it happened and its data.
 */
export function webhookBody(event: { id: string; type: string; createdAt: number; data: string }): string {
  let data: unknown;
  try {
    data = JSON.parse(event.data);
  } catch {
    data = {};
  }
  return JSON.stringify({ id: event.id, type: event.type, created_at: new Date(event.createdAt).toISOString(), data });
}
