import type { FastifyInstance } from 'fastify';
import { TokenkeeperError } from '../errors.ts';
import type { Tokenkeeper } from '../service.ts';
import { apiKeyToJson, createApiKey, listApiKeys, revokeApiKeyIdempotently, type ApiKeyVerifier } from './api-keys.ts';

/**
 * `/v1/api-keys`: the same operations as `tokenkeeper keys`, for deployments where nobody runs
 * the CLI. Any API key may manage keys (there are no scopes), including revoking itself; a key
 * revoked here is refused at once by this instance, because the verifier forgets it.
 */
export function registerApiKeyRoutes(app: FastifyInstance, tk: Tokenkeeper, verifier: ApiKeyVerifier): void {
  const db = tk.database.db;
  const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };

  app.get('/v1/api-keys', async () => ({ data: (await listApiKeys(db)).map(apiKeyToJson) }));

  app.post('/v1/api-keys', async (request, reply) => {
    const { key, record } = await createApiKey(db, tk.clock, nameFrom(request.body));
    // The key is in this response and nowhere else, ever: no cache may keep it (RFC 9111 §5.2.2.5).
    return reply.code(201).headers(noStore).send({ ...apiKeyToJson(record), key });
  });

  app.delete<{ Params: { id: string } }>('/v1/api-keys/:id', async (request) => {
    const record = await revokeApiKeyIdempotently(db, tk.clock, request.params.id);
    verifier.forget(record.id);
    return apiKeyToJson(record);
  });
}

function nameFrom(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new TokenkeeperError('invalid_request', 'The body must be a JSON object: { "name": "what the key is for" }.');
  const unknown = Object.keys(body).filter((field) => field !== 'name');
  if (unknown.length > 0) throw new TokenkeeperError('invalid_request', `Unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((field) => `"${field.slice(0, 40)}"`).join(', ')}; only "name" is accepted.`);
  return (body as { name?: unknown }).name;
}
