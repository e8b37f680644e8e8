import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TokenkeeperError, isTokenkeeperError, isTransientError } from '../errors.ts';
import { checkReadiness, checkStorage } from '../health/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Tokenkeeper } from '../service.ts';
import { CallbackError } from '../tokens/index.ts';
import { renderMessagePage, sendHtmlPage } from '../web/index.ts';
import { requireCronSecret, requireMetricsToken } from './auth.ts';
import { toTokenkeeperError } from './error-mapper.ts';
import { CronJobParams, errorResponses, Health, JobReport, NoQuery, Ready, ref } from './schemas/index.ts';

export const VERSION = '0.1.0';

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

/** Routes without an API key: health, readiness, metrics, OpenAPI, the connect link and the OAuth callback, cron. */
export function registerPublicRoutes(fastify: FastifyInstance, tk: Tokenkeeper, metrics: Metrics): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const healthSchema = {
    operationId: 'getHealth',
    tags: ['operations'],
    summary: 'Whether this instance can serve',
    description:
      'For load balancers and uptime checks: 200 when storage answers, 503 when it does not. While HIGH operator alerts fire (a system token missing, the sweep stalled, an integration’s credentials refused …) it still answers 200 — the instance serves — with `status: degraded` and the alerts listed, so a probe and a person reading it see the same truth. Needs no API key.',
    security: [],
    querystring: NoQuery,
    response: {
      200: ref(Health, 'Storage is reachable (`ok`, or `degraded` while HIGH alerts fire).'),
      503: ref(Health, 'Storage is unreachable: take this instance out of rotation.'),
    },
  };
  app.get('/health', { schema: healthSchema }, async (_request, reply) => {
    const storage = await checkStorage(tk.database);
    if (storage.status !== 'ok') return reply.code(503).send({ status: 'unavailable', version: VERSION, storage, alerts: [] });
    // Liveness first: an alert table that cannot be read does not make a live instance look dead.
    const firing = await tk.alerts.list({ state: 'firing', severity: 'HIGH', limit: 20 }).catch(() => []);
    const alerts = firing.map((alert) => ({ type: alert.type, key: alert.key, summary: alert.summary, since: new Date(alert.firstSeenAt).toISOString() }));
    return reply.code(200).send({ status: alerts.length > 0 ? 'degraded' : 'ok', version: VERSION, storage, alerts });
  });

  const readySchema = {
    operationId: 'getReady',
    tags: ['operations'],
    summary: 'Whether this instance should take traffic',
    description:
      'For readiness probes: 200 when the database answers and every migration this version expects is applied; 503 (same body) when the database is unreachable or migrations are pending (run `tokenkeeper migrate`). `/health` stays 200 meanwhile: the process is alive. Needs no API key.',
    security: [],
    querystring: NoQuery,
    response: { 200: ref(Ready, 'Ready to serve.'), 503: ref(Ready, 'Not ready: the database is unreachable or behind this version.') },
  };
  app.get('/ready', { schema: readySchema }, async (_request, reply) => {
    const readiness = await checkReadiness(tk.database, tk.changes);
    return reply.code(readiness.ready ? 200 : 503).send({
      status: readiness.ready ? 'ready' : 'not_ready',
      version: VERSION,
      storage: readiness.storage,
      migrations: readiness.migrations,
      notifications: readiness.notifications,
    });
  });

  const metricsDocument = {
    operationId: 'getMetrics',
    tags: ['operations'],
    summary: 'Prometheus metrics',
    description: 'Token requests, cache hits, refreshes and their duration, connections by status, and the process, in the Prometheus text exposition format.',
    // Open unless TOKENKEEPER_METRICS_TOKEN is set: then a bearer token.
    security: [{}, { metricsToken: [] }] as Record<string, string[]>[],
    response: {
      200: { description: 'The metrics, text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
      ...errorResponses({ 401: 'TOKENKEEPER_METRICS_TOKEN is set and the request does not carry it (`metrics_unauthorized`).' }),
    },
  };
  // The text answer is documented only (a response schema would make Fastify JSON-encode the text).
  app.get('/metrics', { onRequest: requireMetricsToken(tk.config.metricsToken), config: { swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, ...metricsDocument }, url }) } }, async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.render()),
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger());

  // Browser routes, not API operations: they answer HTML pages and redirects, so they stay out of the document.
  app.get<{ Params: { token: string } }>('/connect/:token', { schema: { hide: true } }, async (request, reply) => {
    try {
      const url = await tk.connect.openLink(request.params.token);
      return reply.header('cache-control', 'no-store').redirect(url.href, 302);
    } catch (error) {
      if (isTokenkeeperError(error) && error.status < 500) return sendErrorPage(reply, error);
      throw error;
    }
  });

  app.get('/oauth/callback', { schema: { hide: true } }, async (request, reply) => {
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
      if (mapped.status >= 500) {
        // A provider or storage having a bad moment is worth a warning, not an alert.
        if (isTransientError(mapped.code)) tk.logger.warn('callback failed', { code: mapped.code, error });
        else tk.logger.error('callback failed', { code: mapped.code, error });
      }
      return sendErrorPage(reply, mapped);
    }
  });

  const cronSchema = {
    operationId: 'runCronJob',
    tags: ['operations'],
    summary: 'Run a scheduled job',
    description:
      'For serverless deployments, where no process runs the in-process scheduler: call `refresh`, `alert-rules`, `notify` and `webhooks` every minute, `stuck` every 5 minutes and `cleanup` hourly from the platform’s cron (`tokenkeeper deploy vercel-crons` prints them). A job already running in this process is joined, not started twice.',
    security: [{ cronSecret: [] }],
    params: CronJobParams,
    querystring: NoQuery,
    response: {
      200: ref(JobReport, 'What the job did.'),
      ...errorResponses({
        400: 'The request is invalid (`invalid_request`).',
        401: 'No cron secret, or not the right one (`invalid_cron_secret`).',
        404: 'Cron routes are off because TOKENKEEPER_CRON_SECRET is not set (`cron_disabled`), or there is no such job (`unknown_job`).',
        500: 'An internal error (`internal_error`).',
        503: 'Storage is unreachable (`storage_unavailable`).',
      }),
    },
  };
  // The secret is checked on request, before validation: a caller without it learns nothing about the route.
  const runJob = async (request: { params: { job: string } }) => {
    if (!tk.jobs.get(request.params.job)) throw new TokenkeeperError('unknown_job', `No job "${request.params.job}". Jobs: ${tk.jobs.names().join(', ')}.`);
    return tk.jobs.run(request.params.job);
  };
  app.post('/v1/cron/:job', { schema: cronSchema, onRequest: requireCronSecret(tk.config.cronSecret) }, runJob);
  // Vercel's cron (and other platform schedulers) can only send GET: the same job, the same secret.
  app.get(
    '/v1/cron/:job',
    {
      schema: {
        ...cronSchema,
        operationId: 'runCronJobByGet',
        summary: 'Run a scheduled job (GET, for platform crons)',
        description: `${cronSchema.description} The same as the POST, for schedulers that can only send GET (Vercel Cron Jobs).`,
      },
      onRequest: requireCronSecret(tk.config.cronSecret),
    },
    runJob,
  );
}
