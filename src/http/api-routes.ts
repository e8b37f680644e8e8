import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { integrationToJson } from '../integrations/index.ts';
import type { Tokenkeeper } from '../service.ts';
import { connectionToJson, importConnection } from '../tokens/index.ts';
import { tokenJson } from './query.ts';
import {
  apiErrorResponses,
  Connection,
  ConnectionDeleted,
  ConnectionEventList,
  ConnectionEventQuery,
  ConnectionIdParams,
  ConnectionImport,
  ConnectionList,
  ConnectionListQuery,
  ConnectSession,
  ConnectSessionCreate,
  Integration,
  IntegrationCreate,
  IntegrationDeleteQuery,
  IntegrationKeyParams,
  IntegrationList,
  IntegrationUpdate,
  NoQuery,
  OwnerToken,
  OwnerTokenQuery,
  ref,
  Token,
  TokenQuery,
} from './schemas/index.ts';

/**
 * The domain builds each answer (`integrationToJson`, `connectionToJson`, `tokenJson`) as a
 * plain record; the route's response schema is what it is serialized through. These casts say
 * so to the type checker; test/http-contract.test.ts checks that every field the domain
 * returns is in the schema (fast-json-stringify would drop one that is not) and that the
 * answers match the document.
 */
const asIntegration = (json: Record<string, unknown>) => json as Integration;
const asConnection = (json: Record<string, unknown>) => json as Connection;
const asToken = (json: Record<string, unknown>) => json as Token;

const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };

const TOKEN_409 =
  'The connection cannot give a token: the user must reconnect (`connection_needs_reauth`, `refresh_token_lost`), it was revoked (`connection_revoked`), has not finished connecting (`connection_pending`), has no refresh token (`no_refresh_token`), or its integration is disabled (`integration_disabled`).';
const TOKEN_503 =
  'A temporary failure; retry after `Retry-After`: another process is refreshing (`refresh_in_progress`), the provider is down or rate-limiting (`provider_unavailable`, `circuit_open`), refreshes are cooling down after failures (`refresh_cooldown`), the provider rejects the integration’s credentials (`integration_failing`), or storage is unreachable (`storage_unavailable`).';
const TOKEN_502 = 'The provider answered with an error or something that is not OAuth (`provider_error`, `invalid_provider_response`).';

/** Everything under /v1 that takes an API key. */
export function registerApiRoutes(fastify: FastifyInstance, tk: Tokenkeeper): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { integrations, connections, tokens, connect, clock, config } = tk;

  // --- integrations ---------------------------------------------------------------------
  app.post(
    '/v1/integrations',
    {
      schema: {
        operationId: 'createIntegration',
        tags: ['integrations'],
        summary: 'Create an integration',
        description:
          'Registers an OAuth client (client id and secret from the provider’s developer console) under a key. The provider’s endpoints come from its catalog entry and OpenID Connect discovery; `settings` are checked against that entry.',
        querystring: NoQuery,
        body: IntegrationCreate,
        response: {
          201: ref(Integration, 'The integration, without its secret.'),
          ...apiErrorResponses(
            {
              400: 'The body is invalid (`invalid_request`, every problem in `details.problems`), not JSON (`invalid_json`), or names a provider that is not in the catalog (`unknown_provider`).',
              409: 'An integration with this key exists (`integration_exists`).',
            },
            { body: true },
          ),
        },
      },
    },
    async (request, reply) => {
      const record = await integrations.create(request.body);
      return reply.code(201).send(asIntegration(integrationToJson(record, config.callbackUrl)));
    },
  );
  app.get(
    '/v1/integrations',
    {
      schema: {
        operationId: 'listIntegrations',
        tags: ['integrations'],
        summary: 'List integrations',
        description: 'Every integration, with its status (`ok`, `failing`, `disabled`). Never a client secret.',
        querystring: NoQuery,
        response: { 200: IntegrationList, ...apiErrorResponses({}) },
      },
    },
    async () => {
      const records = await integrations.list();
      return { data: records.map((record) => asIntegration(integrationToJson(record, config.callbackUrl))) };
    },
  );
  app.get(
    '/v1/integrations/:key',
    {
      schema: {
        operationId: 'getIntegration',
        tags: ['integrations'],
        summary: 'Get an integration',
        description: 'One integration by key, without its secret.',
        params: IntegrationKeyParams,
        querystring: NoQuery,
        response: { 200: ref(Integration, 'The integration.'), ...apiErrorResponses({ 404: 'No such integration (`integration_not_found`).' }) },
      },
    },
    async (request) => asIntegration(integrationToJson(await integrations.getByKey(request.params.key), config.callbackUrl)),
  );
  app.patch(
    '/v1/integrations/:key',
    {
      schema: {
        operationId: 'updateIntegration',
        tags: ['integrations'],
        summary: 'Update an integration',
        description: 'Changes the fields given; any update clears a recorded credential failure. A new client secret takes effect for the next call to the provider.',
        params: IntegrationKeyParams,
        querystring: NoQuery,
        body: IntegrationUpdate,
        response: {
          200: ref(Integration, 'The updated integration.'),
          ...apiErrorResponses(
            {
              404: 'No such integration (`integration_not_found`).',
              409: 'The integration kept changing while it was being updated (`integration_changed`); try again.',
            },
            { body: true },
          ),
        },
      },
    },
    async (request) => asIntegration(integrationToJson(await integrations.update(request.params.key, request.body), config.callbackUrl)),
  );
  app.delete(
    '/v1/integrations/:key',
    {
      schema: {
        operationId: 'deleteIntegration',
        tags: ['integrations'],
        summary: 'Delete an integration',
        description: 'Refused while it has connections, unless `force=true`, which deletes them too (without revoking at the provider).',
        params: IntegrationKeyParams,
        querystring: IntegrationDeleteQuery,
        response: {
          204: Type.Null({ description: 'Deleted.' }),
          ...apiErrorResponses({
            404: 'No such integration (`integration_not_found`).',
            409: 'The integration still has connections (`integration_in_use`, their number in `details.connections`); pass `force=true`.',
          }),
        },
      },
    },
    async (request, reply) => {
      await integrations.remove(request.params.key, { force: request.query.force === true });
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/v1/integrations/:key/token',
    {
      schema: {
        operationId: 'getIntegrationToken',
        tags: ['tokens'],
        summary: "An owner's token, or the system token",
        description:
          'The token of the owner’s usable connection for this integration; with `fallback=system`, the integration’s system connection (client credentials) when the owner has none. Without `owner_id`, the system token.',
        params: IntegrationKeyParams,
        querystring: OwnerTokenQuery,
        response: {
          200: ref(OwnerToken, 'A token valid for at least `min_validity` seconds.'),
          ...apiErrorResponses({
            404: 'No such integration (`integration_not_found`), the owner has no usable connection (`no_usable_connection`), or there is no system connection (`no_system_connection`).',
            409: TOKEN_409,
            422: 'A fresh token from this provider does not live `min_validity` seconds (`min_validity_unsatisfiable`).',
            502: TOKEN_502,
            503: TOKEN_503,
          }),
        },
      },
    },
    async (request, reply) => {
      const { owner_id: ownerId = null, fallback = 'none', min_validity: minValiditySeconds } = request.query;
      const result = await connections.getTokenForOwner(request.params.key, ownerId, { fallback, minValiditySeconds });
      return reply.headers(noStore).send({ ...asToken(tokenJson(result, clock.now())), source: result.source });
    },
  );

  // --- connect --------------------------------------------------------------------------
  app.post(
    '/v1/connect/sessions',
    {
      schema: {
        operationId: 'createConnectSession',
        tags: ['connect'],
        summary: 'Start connecting an account',
        description:
          'Returns a one-time `connect_url` to send the end user to. It leads to the provider’s consent screen; the callback stores the connection and sends the user to `redirect_to` with `connection_id` and `status`, or `error`.',
        querystring: NoQuery,
        body: ConnectSessionCreate,
        response: {
          201: ref(ConnectSession, 'The session and its link.'),
          ...apiErrorResponses(
            {
              400: 'The body is invalid (`invalid_request`, every problem in `details.problems`), not JSON (`invalid_json`), or `redirect_to` is not on an allowed origin (`redirect_origin_not_allowed`).',
              404: 'No such integration (`integration_not_found`).',
              409: 'The integration is disabled (`integration_disabled`).',
            },
            { body: true },
          ),
        },
      },
    },
    async (request, reply) => {
      const session = await connect.createSession(request.body);
      return reply.code(201).send({
        id: session.id,
        connect_url: session.connectUrl,
        expires_at: new Date(session.expiresAt).toISOString(),
        integration: session.integrationKey,
        owner_id: session.ownerId,
      });
    },
  );

  // --- connections ----------------------------------------------------------------------
  app.get(
    '/v1/connections',
    {
      schema: {
        operationId: 'listConnections',
        tags: ['connections'],
        summary: 'List connections',
        description: 'Oldest first, filtered by the parameters given, a page at a time. Reads only storage: it answers while a provider is down.',
        querystring: ConnectionListQuery,
        response: { 200: ConnectionList, ...apiErrorResponses({ 400: 'A parameter is invalid (`invalid_request`), e.g. an `after` that is not a cursor from this API.' }) },
      },
    },
    async (request) => {
      const { integration, owner_id, status, kind, limit, after } = request.query;
      const { records, next } = await connections.list({ integration, owner_id, status, kind, limit: limit === undefined ? undefined : String(limit), after });
      // Names from the rows, never through discovery: listing works while a provider is down.
      const names = new Map((await integrations.list()).map((record) => [record.id, record]));
      const data = records.map((record) => {
        const owner = names.get(record.integrationId);
        return asConnection(connectionToJson(record, owner?.key ?? '', owner?.provider ?? ''));
      });
      return { data, next };
    },
  );
  app.post(
    '/v1/connections',
    {
      schema: {
        operationId: 'importConnection',
        tags: ['connections'],
        summary: 'Import an existing token set',
        description:
          'For migrating from another system or provisioning server-side: stores the tokens encrypted and keeps them fresh like a connection made through the connect flow. The same owner and `account_id` again updates that connection (200) instead of adding one (201).',
        querystring: NoQuery,
        body: ConnectionImport,
        response: {
          200: ref(Connection, 'An existing connection (same owner and account) was updated.'),
          201: ref(Connection, 'A new connection.'),
          ...apiErrorResponses(
            {
              404: 'No such integration (`integration_not_found`).',
              409: 'The integration is disabled (`integration_disabled`).',
            },
            { body: true },
          ),
        },
      },
    },
    async (request, reply) => {
      const saved = await importConnection(request.body, { integrations, connections, clock });
      return reply.code(saved.reconnected ? 200 : 201).send(asConnection(connectionToJson(saved.record, saved.integrationKey, saved.provider)));
    },
  );
  app.get(
    '/v1/connections/:id',
    {
      schema: {
        operationId: 'getConnection',
        tags: ['connections'],
        summary: 'Get a connection',
        description: 'Its state, account and expiry; never a token. Reads only storage.',
        params: ConnectionIdParams,
        querystring: NoQuery,
        response: {
          200: ref(Connection, 'The connection.'),
          ...apiErrorResponses({ 400: 'The id is not a connection id (`invalid_id`), or the request is invalid (`invalid_request`).', 404: 'No such connection (`connection_not_found`).' }),
        },
      },
    },
    async (request) => {
      const { record, integration } = await connections.get(request.params.id);
      return asConnection(connectionToJson(record, integration.record.key, integration.provider.key));
    },
  );
  app.delete(
    '/v1/connections/:id',
    {
      schema: {
        operationId: 'deleteConnection',
        tags: ['connections'],
        summary: 'Revoke and delete a connection',
        description: 'Revokes the tokens at the provider where it supports revocation (RFC 7009), then deletes the connection, even if the revocation failed (the answer says).',
        params: ConnectionIdParams,
        querystring: NoQuery,
        response: {
          200: ConnectionDeleted,
          ...apiErrorResponses({ 400: 'The id is not a connection id (`invalid_id`), or the request is invalid (`invalid_request`).', 404: 'No such connection (`connection_not_found`).' }),
        },
      },
    },
    async (request) => {
      const outcome = await connections.delete(request.params.id);
      return { deleted: true, revoked_at_provider: outcome.revokedAtProvider, revocation_error: outcome.revocationError };
    },
  );
  app.get(
    '/v1/connections/:id/token',
    {
      schema: {
        operationId: 'getConnectionToken',
        tags: ['tokens'],
        summary: 'A valid access token',
        description:
          'The call to make before each provider request. Answers from memory while the token is valid for `min_validity`; otherwise refreshes it first, exactly once across all callers and processes.',
        params: ConnectionIdParams,
        querystring: TokenQuery,
        response: {
          200: ref(Token, 'A token valid for at least `min_validity` seconds.'),
          ...apiErrorResponses({
            400: 'The id is not a connection id (`invalid_id`), or a parameter is invalid (`invalid_request`).',
            404: 'No such connection (`connection_not_found`).',
            409: TOKEN_409,
            422: 'A fresh token from this provider does not live `min_validity` seconds (`min_validity_unsatisfiable`).',
            502: TOKEN_502,
            503: TOKEN_503,
          }),
        },
      },
    },
    async (request, reply) => {
      const result = await tokens.getToken(request.params.id, { minValiditySeconds: request.query.min_validity });
      return reply.headers(noStore).send(asToken(tokenJson(result, clock.now())));
    },
  );
  app.post(
    '/v1/connections/:id/refresh',
    {
      schema: {
        operationId: 'refreshConnection',
        tags: ['tokens'],
        summary: 'Refresh now',
        description: 'Refreshes even though the token is still valid (e.g. after changing scopes at the provider); joins a refresh already under way.',
        params: ConnectionIdParams,
        querystring: NoQuery,
        response: {
          200: ref(Token, 'The new token.'),
          ...apiErrorResponses({
            400: 'The id is not a connection id (`invalid_id`), or the request is invalid (`invalid_request`).',
            404: 'No such connection (`connection_not_found`).',
            409: TOKEN_409,
            502: TOKEN_502,
            503: TOKEN_503,
          }),
        },
      },
    },
    async (request, reply) => {
      const result = await tokens.forceRefresh(request.params.id);
      return reply.headers(noStore).send(asToken(tokenJson(result, clock.now())));
    },
  );
  app.get(
    '/v1/connections/:id/events',
    {
      schema: {
        operationId: 'listConnectionEvents',
        tags: ['connections'],
        summary: 'Lifecycle events of a connection',
        description: 'Newest first: created, refreshed, failed, needs reauth, revoked… Never a token.',
        params: ConnectionIdParams,
        querystring: ConnectionEventQuery,
        response: {
          200: ConnectionEventList,
          ...apiErrorResponses({ 400: 'The id is not a connection id (`invalid_id`), or a parameter is invalid (`invalid_request`).', 404: 'No such connection (`connection_not_found`).' }),
        },
      },
    },
    async (request) => {
      const events = await connections.events(request.params.id, { limit: request.query.limit });
      return {
        data: events.map((event) => ({
          id: event.id,
          type: event.type,
          integration: event.integrationKey,
          data: event.data,
          created_at: new Date(event.createdAt).toISOString(),
        })),
      };
    },
  );
}
