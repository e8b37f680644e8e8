import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { deliveryToJson, webhookToJson } from '../delivery/index.ts';
import type { Tokenkeeper } from '../service.ts';
import {
  apiErrorResponses,
  NewWebhookEndpoint,
  NoQuery,
  ref,
  WebhookCreate,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookDeliveryParams,
  WebhookDeliveryQuery,
  WebhookEndpoint,
  WebhookEndpointList,
  WebhookIdParams,
} from './schemas/index.ts';

/** The domain builds each answer (`webhookToJson`, `deliveryToJson`); the response schema serializes it. */
const asWebhook = (json: Record<string, unknown>) => json as WebhookEndpoint;
const asDelivery = (json: Record<string, unknown>) => json as WebhookDelivery;

const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };
const ID_400 = 'The id is not a webhook endpoint id (`invalid_id`), or the request is invalid (`invalid_request`).';
const NOT_FOUND = 'No such endpoint (`webhook_not_found`).';

/**
 * `/v1/webhooks`: the application's endpoints for connection and integration events
 * (docs/webhooks.md), the same operations as `tokenkeeper webhooks`.
 */
export function registerWebhookRoutes(fastify: FastifyInstance, tk: Tokenkeeper): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { webhooks } = tk;

  app.post(
    '/v1/webhooks',
    {
      schema: {
        operationId: 'createWebhook',
        tags: ['webhooks'],
        summary: 'Create a webhook endpoint',
        description:
          'Registers an endpoint that receives events as signed JSON POSTs (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`). The signing secret is in this answer and nowhere else, ever: it is stored encrypted. Without `events`, the endpoint receives every event but `connection.refreshed`.',
        querystring: NoQuery,
        body: WebhookCreate,
        response: {
          201: ref(NewWebhookEndpoint, 'The endpoint, with its signing secret: shown once.'),
          ...apiErrorResponses({ 400: 'The body is invalid: a URL that is not http(s), an unknown event name (`invalid_request`, every problem in `details.problems`), or not JSON (`invalid_json`).' }, { body: true }),
        },
      },
    },
    async (request, reply) => {
      const { record, secret } = await webhooks.create(request.body);
      // The secret is in this response and nowhere else, ever: no cache may keep it (RFC 9111 §5.2.2.5).
      return reply.code(201).headers(noStore).send({ ...asWebhook(webhookToJson(record)), secret });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      schema: {
        operationId: 'listWebhooks',
        tags: ['webhooks'],
        summary: 'List webhook endpoints',
        description: 'Every endpoint, oldest first, the one of TOKENKEEPER_APP_WEBHOOK_URL included (`source: environment`); never a secret.',
        querystring: NoQuery,
        response: { 200: WebhookEndpointList, ...apiErrorResponses({}) },
      },
    },
    async () => ({ data: (await webhooks.list()).map((record) => asWebhook(webhookToJson(record))) }),
  );

  app.get(
    '/v1/webhooks/:id',
    {
      schema: {
        operationId: 'getWebhook',
        tags: ['webhooks'],
        summary: 'Get a webhook endpoint',
        description: 'One endpoint: URL, events, source; never its secret.',
        params: WebhookIdParams,
        querystring: NoQuery,
        response: { 200: ref(WebhookEndpoint, 'The endpoint.'), ...apiErrorResponses({ 400: ID_400, 404: NOT_FOUND }) },
      },
    },
    async (request) => asWebhook(webhookToJson(await webhooks.get(request.params.id))),
  );

  app.delete(
    '/v1/webhooks/:id',
    {
      schema: {
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        summary: 'Delete a webhook endpoint',
        description: 'Nothing more is sent to it; its delivery log goes with it. The endpoint of TOKENKEEPER_APP_WEBHOOK_URL is removed by unsetting the variable instead.',
        params: WebhookIdParams,
        querystring: NoQuery,
        response: {
          204: Type.Null({ description: 'Deleted.' }),
          ...apiErrorResponses({ 400: ID_400, 404: NOT_FOUND, 409: 'The endpoint comes from TOKENKEEPER_APP_WEBHOOK_URL (`webhook_from_environment`).' }),
        },
      },
    },
    async (request, reply) => {
      await webhooks.delete(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        operationId: 'listWebhookDeliveries',
        tags: ['webhooks'],
        summary: 'The delivery log of a webhook endpoint',
        description:
          'One entry per event sent (or to send) to the endpoint, newest first: status, attempts, the last answer or error, when the next attempt is due. Failed attempts are retried with exponential backoff for 24 h.',
        params: WebhookIdParams,
        querystring: WebhookDeliveryQuery,
        response: { 200: WebhookDeliveryList, ...apiErrorResponses({ 400: ID_400, 404: NOT_FOUND }) },
      },
    },
    async (request) => ({
      data: (await webhooks.deliveries(request.params.id, request.query)).map((record) => asDelivery(deliveryToJson(record))),
    }),
  );

  app.post(
    '/v1/webhooks/:id/deliveries/:delivery/retry',
    {
      schema: {
        operationId: 'retryWebhookDelivery',
        tags: ['webhooks'],
        summary: 'Redeliver an event',
        description:
          'Sends the delivery again now, whatever its status (a delivered one too, for a receiver that lost it), with the same `webhook-id`, and retries it with backoff for another 24 h. The answer is the queued delivery; its outcome shows in the delivery log.',
        params: WebhookDeliveryParams,
        querystring: NoQuery,
        response: {
          202: ref(WebhookDelivery, 'Queued for delivery now.'),
          ...apiErrorResponses({
            400: 'An id is not a webhook endpoint id or a delivery id (`invalid_id`), or the request is invalid (`invalid_request`).',
            404: 'No such endpoint (`webhook_not_found`), or no such delivery of it (`delivery_not_found`).',
          }),
        },
      },
    },
    async (request, reply) => reply.code(202).send(asDelivery(deliveryToJson(await webhooks.retry(request.params.id, request.params.delivery)))),
  );
}
