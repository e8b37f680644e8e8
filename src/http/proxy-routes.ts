import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TokenkeeperError } from '../errors.ts';
import { PROXY_METHODS, prepareBody, type ProxyBody } from '../proxy/index.ts';
import type { Tokenkeeper } from '../service.ts';

const PREFIX = '/v1/proxy/';

/**
 * `ANY /v1/proxy/:connection_id/<path>`: the authenticated proxy to provider APIs (src/proxy/,
 * docs/proxy.md), in the API-key scope. Registered in a scope of its own, because its bodies are
 * not ours to parse: every content type gets a parser that reads nothing, so the caller's body
 * reaches the provider as a stream, byte for byte and whatever its size (TOKENKEEPER_MAX_BODY_BYTES
 * is for Tokenkeeper's own JSON), while the JSON parser of every other route stays as it is.
 *
 * The path is taken from the raw request line, not from the router's decoded parameters: the
 * provider must get exactly what the caller wrote, and the traversal checks must see it before
 * any decoding (`%2e%2e` decoded is `..`). Not in the OpenAPI document: one operation for seven
 * methods and any path is not something the document (or its clients) can describe.
 */
export function registerProxyRoutes(app: FastifyInstance, tk: Tokenkeeper): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const handler = (request: FastifyRequest, reply: FastifyReply) => proxyCall(tk, request, reply);
    for (const url of ['/v1/proxy/:connection_id', '/v1/proxy/:connection_id/*']) {
      scope.route({ method: [...PROXY_METHODS], url, exposeHeadRoute: false, handler });
    }
  });
}

async function proxyCall(tk: Tokenkeeper, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const raw = request.raw.url ?? '';
  // An absolute-form request line (`GET http://host/v1/proxy/…`) is for forward proxies, which this is not.
  if (!raw.startsWith(PREFIX)) {
    throw new TokenkeeperError('proxy_path_invalid', 'Refused proxy path: send the request line in origin form (/v1/proxy/…). Nothing was sent.', {
      details: { reason: 'the request line is not in origin form' },
    });
  }
  const rest = raw.slice(PREFIX.length);
  const idEnd = rest.search(/[/?]/);
  const connectionId = idEnd === -1 ? rest : rest.slice(0, idEnd);
  const target = idEnd === -1 ? '' : rest.slice(idEnd);

  // The caller leaving stops retries and waits, and the provider call itself.
  const left = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) left.abort();
  });

  const answer = await tk.proxy.forward({
    connectionId,
    method: request.method,
    target,
    headers: request.headers,
    body: await bodyOf(request),
    signal: left.signal,
  });
  reply.code(answer.status);
  const { headers } = answer;
  // Our request id stays ours; the provider's own ids travel under their own names.
  for (const name of Object.keys(headers)) if (name !== 'x-request-id') reply.header(name, headers[name]);
  // A body failing before its first byte is answered with our own error (the error handler):
  // without the provider's headers (a `Content-Encoding` would garble it), and without
  // `tokenkeeper-proxy-attempts`, which tells the provider's answers from ours (tokenkeeper/client).
  answer.body?.once('error', () => {
    if (!reply.raw.headersSent) for (const name of Object.keys(headers)) if (name !== 'x-request-id') reply.removeHeader(name);
  });
  return answer.body === null ? reply.send() : reply.send(answer.body);
}

/** The caller's body, untouched: none, kept (small, for a retry), or streaming (prepareBody). */
async function bodyOf(request: FastifyRequest): Promise<ProxyBody> {
  const lengthHeader = request.headers['content-length'];
  const declared = lengthHeader === undefined ? null : Number(lengthHeader);
  const chunked = request.headers['transfer-encoding'] !== undefined;
  if (!chunked && (declared === null || declared === 0)) return { kind: 'none' };
  return prepareBody(request.raw, declared !== null && Number.isSafeInteger(declared) ? declared : null);
}
