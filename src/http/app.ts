import Fastify, { type FastifyInstance } from 'fastify';
import { TokenkeeperError } from '../errors.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import type { Tokenkeeper } from '../service.ts';
import { registerPages } from '../web/index.ts';
import { registerApiKeyRoutes } from './api-key-routes.ts';
import { ApiKeyVerifier } from './api-keys.ts';
import { registerApiRoutes } from './api-routes.ts';
import { requireApiKey } from './auth.ts';
import { errorHandler, sendError } from './error-mapper.ts';
import { registerPublicRoutes } from './public-routes.ts';

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
  const app = Fastify({ bodyLimit: tk.config.maxBodyBytes, logger: false, trustProxy: false, return503OnClosing: true });
  const metrics = createMetrics(tk.events, tk.database.db);
  const apiKeys = new ApiKeyVerifier(tk.database.db, tk.clock);

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

  app.setErrorHandler(errorHandler(tk.logger));
  app.setNotFoundHandler((request, reply) => sendError(reply, new TokenkeeperError('route_not_found', `No route ${request.method} ${request.url.split('?')[0]}.`)));

  registerPublicRoutes(app, tk, metrics);
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      if (request.url.startsWith('/v1/cron/')) return;
      await requireApiKey(apiKeys)(request, undefined as never);
    });
    registerApiRoutes(scope, tk);
    registerApiKeyRoutes(scope, tk, apiKeys);
  });
  registerPages(app, tk);
  options.extend?.(app);
  app.addHook('onClose', async () => metrics.stop());
  return { app, metrics, apiKeys };
}
