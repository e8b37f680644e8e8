import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isTokenkeeperError } from '../errors.ts';
import type { Tokenkeeper } from '../service.ts';
import {
  type Action,
  ActionExecution,
  ActionHeaders,
  ActionInputBody,
  ActionList,
  ActionListQuery,
  ActionParams,
  ActionPreview,
  apiErrorResponses,
  ref,
} from './schemas/index.ts';

/** The answer header that says an execute's answer is the one stored for its Idempotency-Key. */
export const REPLAYED_HEADER = 'idempotent-replayed';

const NEEDS_USER = '`connection_needs_reauth` (and `connection_revoked`, `connection_pending`, `refresh_token_lost`, `no_refresh_token`): the user must reconnect; nothing was sent.';

/**
 * Actions (issue 9, items 5–10; docs/actions.md), in the API-key scope: the list, a preview that
 * sends nothing, and execute through the proxy path. Each action's input schema is in the OpenAPI
 * document too (`ActionInput.<name>`, added by openapi.ts).
 */
export function registerActionRoutes(fastify: FastifyInstance, tk: Tokenkeeper): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { actions } = tk;

  app.get(
    '/v1/actions',
    {
      schema: {
        operationId: 'listActions',
        tags: ['actions'],
        summary: 'List actions',
        description:
          'The actions this service offers (built-in and from TOKENKEEPER_ACTIONS_DIR) with their input schemas; with `integration`, those that integration offers and whether they are enabled for it.',
        querystring: ActionListQuery,
        response: { 200: ActionList, ...apiErrorResponses({ 404: 'No such integration (`integration_not_found`).' }) },
      },
    },
    async (request) => ({ data: (await actions.list(request.query.integration)) as Action[] }),
  );

  app.post(
    '/v1/connections/:id/actions/:action/preview',
    {
      schema: {
        operationId: 'previewAction',
        tags: ['actions'],
        summary: 'Preview an action',
        description:
          'Validates the input and answers the exact request an execute would send — method, URL, headers with the token redacted, body — without sending anything or touching the token.',
        params: ActionParams,
        body: ActionInputBody,
        response: {
          200: ref(ActionPreview, 'The request that would be sent.'),
          ...apiErrorResponses(
            {
              400: 'The input does not match the action’s schema (`invalid_request`, every problem in `details.problems`, `details.outcome` `validation_error`).',
              404: 'No such connection (`connection_not_found`) or action, or the integration does not offer it (`action_not_found`, with `details.available`).',
              409: 'The integration has no API base URL (`proxy_not_configured`).',
              501: 'The action is turned off (`action_disabled`).',
            },
            { body: true },
          ),
        },
      },
    },
    async (request) => actions.preview(request.params.id, request.params.action, request.body),
  );

  app.post(
    '/v1/connections/:id/actions/:action/execute',
    {
      schema: {
        operationId: 'executeAction',
        tags: ['actions'],
        summary: 'Execute an action',
        description:
          'Sends the action’s request through the proxy path (the connection’s token, one refresh and retry after a 401, Retry-After on 429/503, the integration’s rate limit and circuit breaker) and answers what the action read from the provider. ' +
          'A failure answers an error whose `details.outcome` is one of `action_disabled`, `validation_error`, `connection_needs_reauth`, `token_unavailable`, `provider_rejected`, `provider_error`, `rate_limited`, `timeout`, `circuit_open`, with `details.provider_status` and `details.provider_error` when the provider answered. ' +
          'With an `Idempotency-Key`, the outcome is kept 24 h: a retry with the same key gets it again (header `idempotent-replayed: true`) and nothing is sent twice, on any instance.',
        params: ActionParams,
        headers: ActionHeaders,
        body: ActionInputBody,
        response: {
          200: ref(ActionExecution, 'The action succeeded.'),
          ...apiErrorResponses(
            {
              400: 'The input does not match the action’s schema (`invalid_request`, `details.outcome` `validation_error`), or the Idempotency-Key is malformed.',
              404: 'No such connection (`connection_not_found`) or action, or the integration does not offer it (`action_not_found`).',
              409: `${NEEDS_USER} Also \`proxy_not_configured\`, and \`idempotency_key_in_use\` when an execution with the same key is still running after waiting for it.`,
              422: 'The Idempotency-Key was used with a different input (`idempotency_key_reused`).',
              501: 'The action is turned off (`action_disabled`); nothing was sent.',
              502: 'The provider refused the request (`provider_rejected`, `details.provider_status`, `details.provider_error`) or could not be reached (`proxy_upstream_unreachable`).',
              503: 'No token right now, the provider failed or rate-limited, or the circuit is open (`provider_unavailable`, `circuit_open`, …); retry after `Retry-After`.',
              504: 'The provider did not answer in time (`proxy_timeout`, outcome `timeout`): it may or may not have acted.',
            },
            { body: true },
          ),
        },
      },
    },
    async (request, reply) => {
      const header = request.headers['idempotency-key'];
      const idempotencyKey = Array.isArray(header) ? header.join(',') : header;
      try {
        const answer = await actions.execute(request.params.id, request.params.action, request.body, { idempotencyKey, signal: callerLeft(reply) });
        if (answer.replayed) reply.header(REPLAYED_HEADER, 'true');
        return answer as ActionExecution;
      } catch (error) {
        if (isTokenkeeperError(error) && error.details?.replayed === true) reply.header(REPLAYED_HEADER, 'true');
        throw error;
      }
    },
  );
}

/** Aborted when the caller goes away before its answer: waits stop, and so does the provider call. */
function callerLeft(reply: FastifyReply): AbortSignal {
  const left = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) left.abort();
  });
  return left.signal;
}
