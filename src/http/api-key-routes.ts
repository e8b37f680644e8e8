import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Tokenkeeper } from '../service.ts';
import { apiKeyToJson, createApiKey, listApiKeys, revokeApiKeyIdempotently, type ApiKeyVerifier } from './api-keys.ts';
import { ApiKey, ApiKeyCreate, ApiKeyIdParams, ApiKeyList, apiErrorResponses, NewApiKey, NoQuery, ref } from './schemas/index.ts';

/** `apiKeyToJson` builds the answer; the response schema serializes it (test/http-contract.test.ts keeps them in step). */
const asApiKey = (json: Record<string, unknown>) => json as ApiKey;

/**
 * `/v1/api-keys`: the same operations as `tokenkeeper keys`, for deployments where nobody runs
 * the CLI. Any API key may manage keys (there are no scopes), including revoking itself; a key
 * revoked here is refused at once by this instance, because the verifier forgets it.
 */
export function registerApiKeyRoutes(fastify: FastifyInstance, tk: Tokenkeeper, verifier: ApiKeyVerifier): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const db = tk.database.db;
  const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };

  app.get(
    '/v1/api-keys',
    {
      schema: {
        operationId: 'listApiKeys',
        tags: ['api-keys'],
        summary: 'List API keys',
        description: 'Every key, revoked ones included, with its prefix and last use; never a key or its hash.',
        querystring: NoQuery,
        response: { 200: ApiKeyList, ...apiErrorResponses({}) },
      },
    },
    async () => ({ data: (await listApiKeys(db)).map((record) => asApiKey(apiKeyToJson(record))) }),
  );

  app.post(
    '/v1/api-keys',
    {
      schema: {
        operationId: 'createApiKey',
        tags: ['api-keys'],
        summary: 'Create an API key',
        description: 'The key is in this answer and nowhere else, ever: only its SHA-256 is stored. Store it where the application keeps its secrets.',
        querystring: NoQuery,
        body: ApiKeyCreate,
        response: { 201: ref(NewApiKey, 'The new key, shown once.'), ...apiErrorResponses({}, { body: true }) },
      },
    },
    async (request, reply) => {
      const { key, record } = await createApiKey(db, tk.clock, request.body.name);
      // The key is in this response and nowhere else, ever: no cache may keep it (RFC 9111 §5.2.2.5).
      return reply.code(201).headers(noStore).send({ ...asApiKey(apiKeyToJson(record)), key });
    },
  );

  app.delete(
    '/v1/api-keys/:id',
    {
      schema: {
        operationId: 'revokeApiKey',
        tags: ['api-keys'],
        summary: 'Revoke an API key',
        description: 'At once on the instance that answers; on the others at once through PostgreSQL notifications, and within 1 s in any case (they cache verified keys for a second). Idempotent: revoking again answers the first revocation.',
        params: ApiKeyIdParams,
        querystring: NoQuery,
        response: {
          200: ref(ApiKey, 'The revoked key.'),
          ...apiErrorResponses({ 400: 'The id is not an API key id (`invalid_id`), or the request is invalid (`invalid_request`).', 404: 'No such key (`api_key_not_found`).' }),
        },
      },
    },
    async (request) => {
      const record = await revokeApiKeyIdempotently(db, tk.clock, request.params.id);
      verifier.forget(record.id);
      return asApiKey(apiKeyToJson(record));
    },
  );
}
