import type { Clock } from '../clock.ts';
import type { KeyRing } from '../crypto/index.ts';
import { TokenkeeperError } from '../errors.ts';
import { isId, newId } from '../ids.ts';
import type { Logger } from '../logger.ts';
import {
  deleteAppWebhook,
  findAppWebhook,
  findWebhookDelivery,
  insertAppWebhook,
  listAppWebhooks,
  listWebhookDeliveries,
  requeueWebhookDelivery,
  upsertAppWebhook,
  type AppWebhookRecord,
  type Database,
  type WebhookDeliveryRecord,
} from '../store/index.ts';
import { DEFAULT_APP_EVENT_TYPES } from './app-event-types.ts';
import { generateWebhookSecret } from './standard-webhooks.ts';
import { DEFAULT_WEBHOOK_RETRY } from './webhook-backoff.ts';
import type { WebhookDispatcher } from './webhook-dispatcher.ts';
import { checkEventFilter, checkWebhookUrl } from './webhook-input.ts';

/**
 * The fixed id of the endpoint configured by TOKENKEEPER_APP_WEBHOOK_URL: every instance that
 * starts with the variables writes the same row, and its delivery log reads like any other's.
 */
export const ENVIRONMENT_WEBHOOK_ID = 'whk_environmentvariables';

const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export interface AppWebhookServiceOptions {
  db: Database;
  clock: Clock;
  keyRing: KeyRing;
  logger: Logger;
  dispatcher: WebhookDispatcher;
  /** TOKENKEEPER_APP_WEBHOOK_URL and TOKENKEEPER_APP_WEBHOOK_SECRET, when set. */
  environment: { url: string; secret: string } | null;
}

/**
 * The application's webhook endpoints (`/v1/webhooks`, `tokenkeeper webhooks`): create with a
 * generated `whsec_` secret, shown once and stored sealed; list, show, delete; the delivery log
 * and manual redelivery. Delivery itself is the dispatcher's.
 */
export class AppWebhookService {
  readonly dispatcher: WebhookDispatcher;
  private readonly options: AppWebhookServiceOptions;

  constructor(options: AppWebhookServiceOptions) {
    this.options = options;
    this.dispatcher = options.dispatcher;
  }

  /** Associated data of an endpoint's sealed secret (crypto/: `<table>:<row id>:<column>`). */
  static secretAad(id: string): string {
    return `app_webhooks:${id}:secret`;
  }

  /**
   * A new endpoint. The secret is generated here (32 random bytes, `whsec_<base64>`) and returned
   * this once; only its sealed form is stored. `events` omitted: every event but
   * `connection.refreshed`.
   */
  async create(input: { url: unknown; events?: unknown }): Promise<{ record: AppWebhookRecord; secret: string }> {
    const url = checkWebhookUrl(input.url);
    const events = checkEventFilter(input.events);
    const { db, clock, keyRing } = this.options;
    const id = newId('whk');
    const secret = generateWebhookSecret();
    const now = clock.now();
    const record: AppWebhookRecord = { id, url, events, secretSealed: keyRing.seal(secret, AppWebhookService.secretAad(id)), source: 'api', createdAt: now, updatedAt: now };
    await insertAppWebhook(db, record);
    return { record, secret };
  }

  list(): Promise<AppWebhookRecord[]> {
    return listAppWebhooks(this.options.db);
  }

  async get(id: string): Promise<AppWebhookRecord> {
    if (!isId(id, 'whk')) throw new TokenkeeperError('invalid_id', `"${String(id).slice(0, 60)}" is not a webhook endpoint id.`);
    const record = await findAppWebhook(this.options.db, id);
    if (!record) throw new TokenkeeperError('webhook_not_found', `No webhook endpoint "${id}".`);
    return record;
  }

  /** Deletes an endpoint and its delivery log; nothing more is sent to it. */
  async delete(id: string): Promise<AppWebhookRecord> {
    const record = await this.get(id);
    if (record.source === 'environment') {
      throw new TokenkeeperError(
        'webhook_from_environment',
        `The webhook endpoint "${id}" comes from TOKENKEEPER_APP_WEBHOOK_URL: unset TOKENKEEPER_APP_WEBHOOK_URL and TOKENKEEPER_APP_WEBHOOK_SECRET and restart the server to remove it.`,
      );
    }
    if (!(await deleteAppWebhook(this.options.db, id))) throw new TokenkeeperError('webhook_not_found', `No webhook endpoint "${id}".`);
    return record;
  }

  /** The endpoint's delivery log, newest first. */
  async deliveries(id: string, query: { status?: string; event_type?: string; limit?: number } = {}): Promise<WebhookDeliveryRecord[]> {
    await this.get(id);
    if (query.status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(query.status)) {
      throw new TokenkeeperError('invalid_request', `status must be one of ${DELIVERY_STATUSES.join(', ')}.`);
    }
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new TokenkeeperError('invalid_request', 'limit must be a whole number from 1 to 500.');
    return listWebhookDeliveries(this.options.db, id, {
      status: query.status as (typeof DELIVERY_STATUSES)[number] | undefined,
      eventType: query.event_type,
      limit,
    });
  }

  /**
   * Manual redelivery: the delivery is due at once (whatever its status: a delivered one is sent
   * again, with the same `webhook-id`, for a receiver that lost it) and retried with backoff for
   * another 24 h. The server sends it right away; its delivery log shows the outcome.
   */
  async retry(id: string, deliveryId: string): Promise<WebhookDeliveryRecord> {
    await this.get(id);
    if (!isId(deliveryId, 'dlv')) throw new TokenkeeperError('invalid_id', `"${String(deliveryId).slice(0, 60)}" is not a delivery id.`);
    const delivery = await findWebhookDelivery(this.options.db, deliveryId);
    if (!delivery || delivery.webhookId !== id) throw new TokenkeeperError('delivery_not_found', `No delivery "${deliveryId}" of the webhook endpoint "${id}".`);
    const now = this.options.clock.now();
    const requeued = await requeueWebhookDelivery(this.options.db, deliveryId, now, now + DEFAULT_WEBHOOK_RETRY.windowMs);
    if (!requeued) throw new TokenkeeperError('delivery_not_found', `No delivery "${deliveryId}" of the webhook endpoint "${id}".`);
    this.dispatcher.wake();
    return requeued;
  }

  /**
   * Brings the endpoint of TOKENKEEPER_APP_WEBHOOK_URL in line with the configuration: written
   * when set (every start; nothing changes when it is already up to date) and, with
   * `removeWhenUnset` (`serve`, whose configuration is the deployment's), deleted when no longer
   * set. Management commands run from a shell without the variables leave it alone.
   */
  async syncEnvironmentEndpoint(options: { removeWhenUnset: boolean }): Promise<'none' | 'unchanged' | 'written' | 'removed'> {
    const { db, clock, keyRing, logger, environment } = this.options;
    const existing = await findAppWebhook(db, ENVIRONMENT_WEBHOOK_ID);
    if (!environment) {
      if (!existing || !options.removeWhenUnset) return 'none';
      await deleteAppWebhook(db, ENVIRONMENT_WEBHOOK_ID);
      logger.info('removed the application webhook endpoint of TOKENKEEPER_APP_WEBHOOK_URL: the variable is no longer set', { webhook_id: ENVIRONMENT_WEBHOOK_ID });
      return 'removed';
    }
    const events = [...DEFAULT_APP_EVENT_TYPES];
    if (existing && existing.url === environment.url && existing.events.join(',') === events.join(',') && this.opensTo(existing, environment.secret)) return 'unchanged';
    const now = clock.now();
    await upsertAppWebhook(db, {
      id: ENVIRONMENT_WEBHOOK_ID,
      url: environment.url,
      events,
      secretSealed: keyRing.seal(environment.secret, AppWebhookService.secretAad(ENVIRONMENT_WEBHOOK_ID)),
      source: 'environment',
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    });
    logger.info(existing ? 'updated the application webhook endpoint from TOKENKEEPER_APP_WEBHOOK_URL' : 'added the application webhook endpoint from TOKENKEEPER_APP_WEBHOOK_URL', {
      webhook_id: ENVIRONMENT_WEBHOOK_ID,
    });
    return 'written';
  }

  private opensTo(record: AppWebhookRecord, secret: string): boolean {
    try {
      return this.options.keyRing.open(record.secretSealed, AppWebhookService.secretAad(record.id)) === secret;
    } catch {
      return false;
    }
  }
}
