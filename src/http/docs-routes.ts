import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StaticDocumentSpec } from '@fastify/swagger';
import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui';

/** Where the browsable reference is served. */
export const DOCS_PREFIX = '/docs';

/**
 * The routes `@fastify/swagger-ui` 6 registers under its prefix with the options below (its
 * `lib/routes.js`: the page, its two redirect and initializer files, the document as JSON and
 * YAML) and the wildcard `@fastify/static` serves its assets from. They are registered here, up
 * front, so that the 404/405 answers (method-not-allowed.ts) and the request log's `route` are
 * what they were when the plugin itself registered them; test/docs-routes.test.ts compares every
 * one with the plugin's own answers.
 */
export const DOCS_ROUTES = ['/', '/static/index.html', '/static/swagger-initializer.js', '/json', '/yaml', '/static/*'] as const;

export const DOCS_UI_OPTIONS: FastifySwaggerUiOptions = { routePrefix: DOCS_PREFIX, uiConfig: { docExpansion: 'list', deepLinking: true }, staticCSP: true };

/** Headers of the inner answer that belong to its own (simulated) connection, not to the reply. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length']);

/** Set by the inner app on a request it has no answer for: the outer app answers it instead. */
const NOT_FOUND_HEADER = 'x-tokenkeeper-docs-not-found';
/** Sent to the inner app with each forwarded request: the key its failure is handed back under. */
const FORWARD_HEADER = 'x-tokenkeeper-docs-request';
/**
 * The request's URL exactly as it came (`inject` would resolve `..` and `%2e%2e` segments,
 * which the app's router and `@fastify/static` see as they are, and refuse).
 */
const URL_HEADER = 'x-tokenkeeper-docs-url';
/** Headers of the inner answer that are the app's to set when the app answers (not found, an error). */
const ANSWER_HEADERS = new Set(['content-type', NOT_FOUND_HEADER]);

/**
 * `/docs`, the reference browsed from this process (`@fastify/swagger-ui`, which serves its own
 * assets: no network), loaded on its first request instead of at start-up. The plugin and the
 * static file server it brings (`@fastify/static`, glob, send, mime …) are a few dozen
 * modules, about 20 ms of CPU that every start spent before `/ready` for a page most instances
 * never serve.
 *
 * Fastify takes no routes once it listens, so the plugin runs in a small Fastify instance of its
 * own, built on the first request, with the main app's document (`app.swagger()`, generated
 * from the route schemas by `@fastify/swagger`: openapi.ts). Each request to these routes is
 * answered by that instance through `inject` (no socket), its status, headers and body passed
 * on. What the plugin would have left to the app stays the app's: a file it does not have gets
 * the app's 404 (or 405), an error the app's error answer, and every request the app's hooks
 * (request id, request log, draining).
 */
export async function registerDocsRoutes(app: FastifyInstance): Promise<void> {
  let inner: Promise<FastifyInstance> | null = null;
  const docsApp = (): Promise<FastifyInstance> => {
    inner ??= buildDocsApp(app).catch((error: unknown) => {
      inner = null;
      throw error;
    });
    return inner;
  };
  await app.register(
    async (scope) => {
      for (const url of DOCS_ROUTES) {
        scope.get(url, { schema: { hide: true } }, async (request, reply) => forward(await docsApp(), request, reply));
      }
    },
    { prefix: DOCS_PREFIX },
  );
  app.addHook('onClose', async () => {
    const built = await inner?.catch(() => null);
    await built?.close();
  });
}

/** Failures of the inner app by request, handed to the outer one's error handler. */
const failures = new Map<string, unknown>();
let forwarded = 0;

async function forward(docs: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const key = String(++forwarded);
  // A HEAD is asked as a GET: Fastify's HEAD route of the outer app sends the headers of the GET
  // answer with its length, as it did when these routes were the plugin's.
  const answer = await docs.inject({
    method: 'GET',
    url: request.url,
    headers: { ...request.headers, [FORWARD_HEADER]: key, [URL_HEADER]: request.url },
  });
  const failure = failures.get(key);
  failures.delete(key);
  const notFound = answer.headers[NOT_FOUND_HEADER] !== undefined;
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined || CONNECTION_HEADERS.has(name)) continue;
    // The plugin's own headers (its Content-Security-Policy) are on every answer under its prefix,
    // the app's 404 and error answers included.
    if ((failure !== undefined || notFound) && ANSWER_HEADERS.has(name)) continue;
    reply.header(name, value);
  }
  if (failure !== undefined) throw failure;
  if (notFound) {
    reply.callNotFound();
    return reply;
  }
  reply.code(answer.statusCode);
  // An answer without a body (a redirect, a 304 for a cached asset) is sent without one: an empty
  // Buffer would be given a length and a type.
  const bodiless = answer.rawPayload.length === 0 && answer.headers['content-type'] === undefined;
  return bodiless ? reply.send() : reply.send(answer.rawPayload);
}

async function buildDocsApp(app: FastifyInstance): Promise<FastifyInstance> {
  const [{ default: Fastify }, { default: swagger }, { default: swaggerUi }] = await Promise.all([
    import('fastify'),
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ]);
  const docs = Fastify({ logger: false, rewriteUrl: (request) => String(request.headers[URL_HEADER] ?? request.url) });
  docs.setNotFoundHandler((_request, reply) => reply.code(404).header(NOT_FOUND_HEADER, '1').send());
  docs.setErrorHandler((error: FastifyError, request, reply) => {
    failures.set(String(request.headers[FORWARD_HEADER]), error);
    return reply.code(500).send();
  });
  // The document as the app generates it (the same object `/openapi.json` answers), and the UI on it.
  // (Static mode's type lists OpenAPI 3.0 and 2.0 documents; this one is 3.1, which it serves alike.)
  const document = app.swagger() as unknown as StaticDocumentSpec['document'];
  await docs.register(swagger, { mode: 'static', specification: { document } });
  await docs.register(swaggerUi, DOCS_UI_OPTIONS);
  await docs.ready();
  return docs;
}
