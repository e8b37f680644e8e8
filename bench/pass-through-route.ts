import type { FastifyInstance } from 'fastify';
import { Agent, request as httpRequest } from 'node:http';

/** The pass-through route's path on the benchmark's service. */
export const PASS_THROUGH_PATH = '/bench/pass-through/items';

/**
 * The proxy's baseline inside the server, as the bare route is the token route's: GET
 * /bench/pass-through/items on the same Fastify instance sends `GET /items` to the upstream over
 * one kept-alive agent, with the caller's `Authorization` as it came, and streams the answer back
 * with its type and length, and does nothing else: no API key, connection, token, limiter or
 * header rules. What one hop through this server costs at the least; Tokenkeeper's proxy against
 * it is what Tokenkeeper's own work costs. Returns a function that closes its connections.
 */
export function addPassThroughRoute(app: FastifyInstance, upstreamUrl: string): () => void {
  const agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
  app.get(PASS_THROUGH_PATH, (request, reply) => {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(`${upstreamUrl}/items`, { agent, headers: { authorization: request.headers.authorization ?? '' } }, (answer) => {
        reply.code(answer.statusCode ?? 502);
        for (const name of ['content-type', 'content-length']) {
          const value = answer.headers[name];
          if (value !== undefined) reply.header(name, value);
        }
        resolve(reply.send(answer));
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
  });
  return () => agent.destroy();
}
