import type { FastifyInstance } from 'fastify';
import { Agent, request as httpRequest } from 'node:http';

/** The pass-through routes' paths on the benchmark's service: `<prefix><upstream path>`. */
export const PASS_THROUGH_PREFIX = '/bench/pass-through';
/** The pass-through route to the upstream's `GET /items`. */
export const PASS_THROUGH_PATH = `${PASS_THROUGH_PREFIX}/items`;

/**
 * The proxy's baseline inside the server, as the bare route is the token route's: GET
 * /bench/pass-through/<path> on the same Fastify instance sends `GET <path>` to the upstream
 * over one kept-alive agent, with the caller's `Authorization` as it came, and streams the answer
 * back with its type and length, and does nothing else: no API key, connection, token, limiter
 * or header rules. What one hop through this server costs at the least; Tokenkeeper's proxy
 * against it is what Tokenkeeper's own work costs. One route per upstream path given (default
 * `/items`). Returns a function that closes its connections.
 */
export function addPassThroughRoute(app: FastifyInstance, upstreamUrl: string, upstreamPaths: readonly string[] = ['/items']): () => void {
  const agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
  for (const upstreamPath of upstreamPaths) {
    app.get(`${PASS_THROUGH_PREFIX}${upstreamPath}`, (request, reply) => {
      return new Promise((resolve, reject) => {
        const outgoing = httpRequest(`${upstreamUrl}${upstreamPath}`, { agent, headers: { authorization: request.headers.authorization ?? '' } }, (answer) => {
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
  }
  return () => agent.destroy();
}
