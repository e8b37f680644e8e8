import Fastify, { type FastifyInstance } from 'fastify';
import { TokenkeeperError } from '../errors.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import type { Tokenkeeper } from '../service.ts';
import { registerPages } from '../web/index.ts';
import { registerAlertRoutes } from './alert-routes.ts';
import { registerApiKeyRoutes } from './api-key-routes.ts';
import { ApiKeyVerifier } from './api-keys.ts';
import { registerApiRoutes } from './api-routes.ts';
import { requireApiKey } from './auth.ts';
import { errorHandler, sendError } from './error-mapper.ts';
import { RouteMethods } from './method-not-allowed.ts';
import { registerOpenApi } from './openapi.ts';
import { registerProxyRoutes } from './proxy-routes.ts';
import { registerActionRoutes } from './action-routes.ts';
import { registerPublicRoutes, VERSION } from './public-routes.ts';
import { answerFrameworkError, registerRequestLogging, requestLoggingOptions } from './request-logging.ts';
import { LazySchemaCompilers } from './lazy-schema-compilers.ts';
import { createSchemaValidator } from './schema-validator.ts';
import { registerWebhookRoutes } from './webhook-routes.ts';

export interface HttpAppOptions {
  /** Extra routes for the same instance (the benchmark adds its bare baseline route here). */
  extend?: (app: FastifyInstance) => void;
}

export interface HttpApp {
  app: FastifyInstance;
  metrics: Metrics;
  apiKeys: ApiKeyVerifier;
}

/**
 * The HTTP surface. One error mapper for everything; bodies are JSON only, capped at
 * TOKENKEEPER_MAX_BODY_BYTES; an empty body on a POST is treated as no body (so `curl -X POST`
 * works for /refresh) rather than as broken JSON.
 */
export async function buildHttpApp(tk: Tokenkeeper, options: HttpAppOptions = {}): Promise<HttpApp> {
  // Route schemas compile on first use and in the background after listen, not before it.
  const schemas = new LazySchemaCompilers();
  const app = Fastify({
    schemaController: { compilersFactory: { buildSerializer: schemas.buildSerializer } },
    bodyLimit: tk.config.maxBodyBytes,
    trustProxy: false,
    // Requests that still arrive while the server drains get our own 503 (below), not Fastify's body.
    return503OnClosing: false,
    ...requestLoggingOptions(tk.logger),
    // A URL that cannot be decoded is refused before routing: in the error shape too.
    frameworkErrors: answerFrameworkError,
  });
  registerRequestLogging(app);
  // Draining: requests already in flight finish; a request that still arrives on a kept-alive
  // connection is told to go elsewhere, in the documented error shape, and the connection closes.
  let draining = false;
  app.addHook('preClose', (done) => {
    draining = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!draining) return done();
    reply.header('connection', 'close');
    done(new TokenkeeperError('shutting_down'));
  });
  const metrics = createMetrics(tk.events, tk.database.db, { stuck: tk.stuck });
  const apiKeys = new ApiKeyVerifier(tk.database.db, tk.clock, { changes: tk.changes });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new TokenkeeperError('invalid_json'), undefined);
    }
  });
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler(errorHandler());
  // Requests are validated and answers serialized from the route schemas (src/http/schemas/).
  app.setValidatorCompiler(schemas.validatorCompiler(createSchemaValidator()));
  const routeMethods = RouteMethods.track(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = routeMethods.allowedAt(path);
    if (allowed.length > 0) {
      // RFC 9110 §15.5.6: a 405 lists the methods the target does answer.
      return sendError(reply.header('allow', allowed.join(', ')), new TokenkeeperError('method_not_allowed', `${path} does not answer ${request.method}; it answers ${allowed.join(', ')}.`));
    }
    return sendError(reply, new TokenkeeperError('route_not_found', `No route ${request.method} ${path}.`));
  });
  await registerOpenApi(app, { publicUrl: tk.config.publicUrl, version: VERSION, actions: tk.actions.registry.list() });

  registerPublicRoutes(app, tk, metrics);
  await app.register(async (scope) => {
    // One hook built once (the cron routes live outside this scope, behind their own secret).
    scope.addHook('onRequest', requireApiKey(apiKeys));
    registerApiRoutes(scope, tk);
    registerApiKeyRoutes(scope, tk, apiKeys);
    registerWebhookRoutes(scope, tk);
    registerAlertRoutes(scope, tk);
    registerProxyRoutes(scope, tk);
    registerActionRoutes(scope, tk);
  });
  registerPages(app, tk);
  options.extend?.(app);
  app.addHook('onListen', (done) => {
    schemas.warmUp();
    done();
  });
  app.addHook('onClose', async () => {
    schemas.stop();
    metrics.stop();
  });
  return { app, metrics, apiKeys };
}
