import type { FastifyInstance, FastifyReply } from 'fastify';
import { TokenkeeperError, isTokenkeeperError } from '../errors.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Tokenkeeper } from '../service.ts';
import { CallbackError } from '../tokens/index.ts';
import { renderMessagePage, sendHtmlPage } from '../web/index.ts';
import { requireCronSecret } from './auth.ts';
import { toTokenkeeperError } from './error-mapper.ts';
import { buildOpenApiDocument } from './openapi.ts';

const VERSION = '0.1.0';

function sendErrorPage(reply: FastifyReply, error: TokenkeeperError): FastifyReply {
  const hints: Partial<Record<string, string>> = {
    state_expired: 'Go back to the application and start connecting again.',
    state_replayed: 'Go back to the application and start connecting again.',
    state_invalid: 'Open the connect link from the application again.',
    connect_session_expired: 'Ask the application for a new connect link.',
    connect_session_not_found: 'Ask the application for a new connect link.',
    access_denied: 'Nothing was connected. You can try again from the application.',
  };
  return sendHtmlPage(reply, error.status, renderMessagePage({ title: 'Connection not completed', message: error.message, code: error.code, ok: false, hint: hints[error.code] }));
}

/** Routes without an API key: health, metrics, OpenAPI, the connect link and the OAuth callback, cron. */
export function registerPublicRoutes(app: FastifyInstance, tk: Tokenkeeper, metrics: Metrics): void {
  app.get('/health', async (_request, reply) => {
    try {
      await tk.database.ping();
      return reply.send({ status: 'ok', version: VERSION, storage: { status: 'ok', dialect: tk.database.dialect } });
    } catch {
      return reply.code(503).send({ status: 'unavailable', version: VERSION, storage: { status: 'unreachable', dialect: tk.database.dialect } });
    }
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  app.get('/openapi.json', async () => buildOpenApiDocument(tk.config.publicUrl, VERSION));

  app.get<{ Params: { token: string } }>('/connect/:token', async (request, reply) => {
    try {
      const url = await tk.connect.openLink(request.params.token);
      return reply.header('cache-control', 'no-store').redirect(url.href, 302);
    } catch (error) {
      if (isTokenkeeperError(error) && error.status < 500) return sendErrorPage(reply, error);
      throw error;
    }
  });

  app.get('/oauth/callback', async (request, reply) => {
    const params = new URLSearchParams(request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '');
    try {
      const outcome = await tk.connect.handleCallback(params);
      if (outcome.redirectTo) {
        const target = new URL(outcome.redirectTo);
        target.searchParams.set('connection_id', outcome.connection.id);
        target.searchParams.set('status', outcome.reconnected ? 'reconnected' : 'connected');
        return reply.header('cache-control', 'no-store').redirect(target.href, 302);
      }
      const who = outcome.connection.accountLabel ?? outcome.connection.accountId ?? 'the account';
      return sendHtmlPage(
        reply,
        200,
        renderMessagePage({
          title: outcome.reconnected ? 'Reconnected' : 'Connected',
          message: `${who} is connected through ${outcome.integrationKey}. You can close this window.`,
          ok: true,
          hint: `Connection id: ${outcome.connection.id}`,
        }),
      );
    } catch (error) {
      if (error instanceof CallbackError) {
        if (error.redirectTo) {
          const target = new URL(error.redirectTo);
          target.searchParams.set('error', error.error.code);
          return reply.header('cache-control', 'no-store').redirect(target.href, 302);
        }
        return sendErrorPage(reply, error.error);
      }
      const mapped = toTokenkeeperError(error);
      if (mapped.status >= 500) tk.logger.error('callback failed', { code: mapped.code, error });
      return sendErrorPage(reply, mapped);
    }
  });

  app.post<{ Params: { job: string } }>('/v1/cron/:job', { preHandler: requireCronSecret(tk.config.cronSecret) }, async (request) => {
    if (!tk.jobs.get(request.params.job)) throw new TokenkeeperError('unknown_job', `No job "${request.params.job}". Jobs: ${tk.jobs.names().join(', ')}.`);
    return tk.jobs.run(request.params.job);
  });
}
