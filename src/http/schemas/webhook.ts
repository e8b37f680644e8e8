import Type, { type Static } from 'typebox';
import { APP_EVENT_TYPES } from '../../delivery/app-event-types.ts';
import { MAX_WEBHOOK_URL_LENGTH } from '../../delivery/webhook-input.ts';
import { DateTime, nullable, ref, stringEnum } from './schema-builders.ts';

const EVENT_LIST = APP_EVENT_TYPES.map((type) => `\`${type}\``).join(', ');
const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

const webhookProperties = {
  id: Type.String({ description: 'whk_…' }),
  url: Type.String({ description: 'Where the events are POSTed.' }),
  events: Type.Array(stringEnum(APP_EVENT_TYPES), { description: 'The event types this endpoint receives.' }),
  source: stringEnum(['api', 'environment'] as const, '`environment`: the endpoint of TOKENKEEPER_APP_WEBHOOK_URL, managed by the configuration.'),
  created_at: DateTime(),
  updated_at: DateTime(),
};

/** The API's view of an endpoint (`webhookToJson`): never its secret (shown once, at creation). */
export const WebhookEndpoint = Type.Object(webhookProperties, { $id: 'WebhookEndpoint', description: 'An endpoint of the application that receives events, without its secret.' });
export type WebhookEndpoint = Static<typeof WebhookEndpoint>;

export const NewWebhookEndpoint = Type.Object(
  {
    ...webhookProperties,
    secret: Type.String({ description: 'The signing secret (`whsec_…`, Standard Webhooks): in this answer only, never again. Verify every delivery with it.' }),
  },
  { $id: 'NewWebhookEndpoint', description: 'A new endpoint, with its signing secret.' },
);

export const WebhookEndpointList = Type.Object({ data: Type.Array(ref(WebhookEndpoint)) });

export const WebhookCreate = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: MAX_WEBHOOK_URL_LENGTH, description: 'An absolute `https://` (or `http://`) URL, without user name or password.' }),
    events: Type.Optional(
      Type.Array(stringEnum(APP_EVENT_TYPES), {
        minItems: 1,
        maxItems: 50,
        description: `The event types to receive, from ${EVENT_LIST}. Default: all of them but \`connection.refreshed\` (frequent: only endpoints that name it receive it).`,
      }),
    ),
  },
  { additionalProperties: false },
);

/** One line of an endpoint's delivery log (`deliveryToJson`). */
export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ description: 'dlv_…' }),
    webhook_id: Type.String(),
    event_id: Type.String({ description: 'evt_…: the `webhook-id` header of every attempt, and the `id` of the body.' }),
    event_type: Type.String(),
    status: stringEnum(DELIVERY_STATUSES, '`pending`: not delivered yet, an attempt is due at `next_attempt_at`; `delivered`: a 2xx answer; `failed`: retried for 24 h without success.'),
    attempts: Type.Integer({ minimum: 0, description: 'Attempts made.' }),
    last_attempt_at: nullable(DateTime()),
    response_status: nullable(Type.Integer({ description: "The receiver's HTTP status on the last attempt; null when it did not answer." })),
    last_error: nullable(Type.String({ description: 'Why the last attempt failed.' })),
    next_attempt_at: nullable(DateTime('When the next attempt is due; null once delivered or failed.')),
    retry_until: DateTime('Retries stop after this.'),
    delivered_at: nullable(DateTime()),
    created_at: DateTime(),
  },
  { $id: 'WebhookDelivery', description: 'One event for one endpoint: where its delivery stands.' },
);
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const WebhookDeliveryList = Type.Object({ data: Type.Array(ref(WebhookDelivery)) });

export const WebhookDeliveryQuery = Type.Object(
  {
    status: Type.Optional(stringEnum(DELIVERY_STATUSES)),
    event_type: Type.Optional(stringEnum(APP_EVENT_TYPES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'How many, newest first; default 100.' })),
  },
  { additionalProperties: false },
);

const webhookId = Type.String({ pattern: '^whk_[a-z2-7]{20}$', description: 'a webhook endpoint id (whk_ and 20 characters from a-z and 2-7)' });

export const WebhookIdParams = Type.Object({ id: webhookId }, { additionalProperties: false });
export const WebhookDeliveryParams = Type.Object(
  { id: webhookId, delivery: Type.String({ pattern: '^dlv_[a-z2-7]{20}$', description: 'a delivery id (dlv_ and 20 characters from a-z and 2-7)' }) },
  { additionalProperties: false },
);
