import type { FastifyInstance } from 'fastify';
import { TokenkeeperError } from '../errors.ts';
import { integrationToJson } from '../integrations/index.ts';
import type { Tokenkeeper } from '../service.ts';
import { connectionToJson, importConnection, isValidOwnerId } from '../tokens/index.ts';
import { optionalInteger, optionalString, requireId, tokenJson } from './query.ts';

type Params = { key: string; id: string };
type Query = Record<string, unknown>;

/** Everything under /v1 that takes an API key. */
export function registerApiRoutes(app: FastifyInstance, tk: Tokenkeeper): void {
  const { integrations, connections, tokens, connect, clock, config } = tk;
  const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };

  // --- integrations ---------------------------------------------------------------------
  app.post('/v1/integrations', async (request, reply) => {
    const record = await integrations.create(request.body);
    return reply.code(201).send(integrationToJson(record, config.callbackUrl));
  });
  app.get('/v1/integrations', async () => {
    const records = await integrations.list();
    return { data: records.map((record) => integrationToJson(record, config.callbackUrl)) };
  });
  app.get<{ Params: Params }>('/v1/integrations/:key', async (request) =>
    integrationToJson(await integrations.getByKey(request.params.key), config.callbackUrl),
  );
  app.patch<{ Params: Params }>('/v1/integrations/:key', async (request) =>
    integrationToJson(await integrations.update(request.params.key, request.body), config.callbackUrl),
  );
  app.delete<{ Params: Params; Querystring: Query }>('/v1/integrations/:key', async (request, reply) => {
    const force = optionalString(request.query, 'force');
    if (force !== undefined && force !== 'true' && force !== 'false') throw new TokenkeeperError('invalid_request', 'force must be true or false.');
    await integrations.remove(request.params.key, { force: force === 'true' });
    return reply.code(204).send();
  });
  app.get<{ Params: Params; Querystring: Query }>('/v1/integrations/:key/token', async (request, reply) => {
    const ownerId = optionalString(request.query, 'owner_id') ?? null;
    const fallback = optionalString(request.query, 'fallback') ?? 'none';
    if (fallback !== 'system' && fallback !== 'none') throw new TokenkeeperError('invalid_request', 'fallback must be "system" or "none".');
    if (ownerId !== null && !isValidOwnerId(ownerId)) throw new TokenkeeperError('invalid_request', 'owner_id is not a valid owner id.');
    const minValiditySeconds = optionalInteger(request.query, 'min_validity', 0, 86_400);
    const result = await connections.getTokenForOwner(request.params.key, ownerId, { fallback, minValiditySeconds });
    return reply.headers(noStore).send({ ...tokenJson(result, clock.now()), source: result.source });
  });

  // --- connect --------------------------------------------------------------------------
  app.post('/v1/connect/sessions', async (request, reply) => {
    const session = await connect.createSession(request.body);
    return reply.code(201).send({
      id: session.id,
      connect_url: session.connectUrl,
      expires_at: new Date(session.expiresAt).toISOString(),
      integration: session.integrationKey,
      owner_id: session.ownerId,
    });
  });

  // --- connections ----------------------------------------------------------------------
  app.get<{ Querystring: Query }>('/v1/connections', async (request) => {
    const q = request.query;
    const { records, next } = await connections.list({
      integration: optionalString(q, 'integration'),
      owner_id: optionalString(q, 'owner_id'),
      status: optionalString(q, 'status'),
      kind: optionalString(q, 'kind'),
      limit: optionalString(q, 'limit'),
      after: optionalString(q, 'after'),
    });
    // Names from the rows, never through discovery: listing works while a provider is down.
    const names = new Map((await integrations.list()).map((integration) => [integration.id, integration]));
    const data = records.map((record) => {
      const integration = names.get(record.integrationId);
      return connectionToJson(record, integration?.key ?? '', integration?.provider ?? '');
    });
    return { data, next };
  });
  app.post('/v1/connections', async (request, reply) => {
    const saved = await importConnection(request.body, { integrations, connections, clock });
    return reply.code(saved.reconnected ? 200 : 201).send(connectionToJson(saved.record, saved.integrationKey, saved.provider));
  });
  app.get<{ Params: Params }>('/v1/connections/:id', async (request) => {
    const { record, integration } = await connections.get(requireId(request.params.id, 'con', 'connection'));
    return connectionToJson(record, integration.record.key, integration.provider.key);
  });
  app.delete<{ Params: Params }>('/v1/connections/:id', async (request) => {
    const outcome = await connections.delete(requireId(request.params.id, 'con', 'connection'));
    return { deleted: true, revoked_at_provider: outcome.revokedAtProvider, revocation_error: outcome.revocationError };
  });
  app.get<{ Params: Params; Querystring: Query }>('/v1/connections/:id/token', async (request, reply) => {
    const id = requireId(request.params.id, 'con', 'connection');
    const minValiditySeconds = optionalInteger(request.query, 'min_validity', 0, 86_400);
    const result = await tokens.getToken(id, { minValiditySeconds });
    return reply.headers(noStore).send(tokenJson(result, clock.now()));
  });
  app.post<{ Params: Params }>('/v1/connections/:id/refresh', async (request, reply) => {
    const id = requireId(request.params.id, 'con', 'connection');
    const result = await tokens.forceRefresh(id);
    return reply.headers(noStore).send(tokenJson(result, clock.now()));
  });
  app.get<{ Params: Params; Querystring: Query }>('/v1/connections/:id/events', async (request) => {
    const id = requireId(request.params.id, 'con', 'connection');
    const limit = optionalInteger(request.query, 'limit', 1, 500);
    const events = await connections.events(id, { limit });
    return {
      data: events.map((event) => ({
        id: event.id,
        type: event.type,
        integration: event.integrationKey,
        data: event.data,
        created_at: new Date(event.createdAt).toISOString(),
      })),
    };
  });
}
