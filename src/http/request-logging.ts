import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LogController } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger as PinoLogger } from 'pino';
import { pinoLoggerOf, requestChildLogger, type Logger } from '../logger.ts';
import { runWithRequestId } from '../logging/index.ts';
import { answerClientError } from './client-error.ts';
import { sendError, toTokenkeeperError } from './error-mapper.ts';
import { answeredErrorOf, requestIdOf } from './request-id.ts';

/**
 * Routes answered at `debug` when they succeed: token reads (the hot path, called before every
 * provider request), health checks and metric scrapes. Their failures are `info` like any other.
 */
const QUIET_ROUTES = new Set(['/v1/connections/:id/token', '/v1/integrations/:key/token', '/health', '/metrics']);

function routeOf(request: FastifyRequest): string | undefined {
  // A request refused before routing (a URL that cannot be decoded) has no route.
  try {
    return request.routeOptions.url;
  } catch {
    return undefined;
  }
}

function requestFields(request: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url,
    route: routeOf(request),
    status_code: reply.statusCode,
    response_time_ms: Math.round(reply.elapsedTime * 10) / 10,
    error_code: answeredErrorOf(request),
  };
}

/**
 * Fastify's request lines, in our shape: one `request completed` line per request (Fastify's
 * own pair of `incoming request` / `request completed` lines carry objects, not fields), at
 * `info`, or `debug` for the quiet routes. Failures are logged by the error handler, at the
 * level they deserve; a response that could not be written because the client left is `info`:
 * nobody on our side can act on it.
 */
export class RequestLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'request_id' });
  }

  override incomingRequest(request: FastifyRequest): void {
    const log = request.log as PinoLogger;
    if (log.isLevelEnabled('debug')) log.debug({ method: request.method, url: request.url }, 'request received');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const log = request.log as PinoLogger;
    const level = !error && reply.statusCode < 400 && QUIET_ROUTES.has(routeOf(request) as string) ? 'debug' : 'info';
    // Every request passes here: build nothing when nothing would be written.
    if (!log.isLevelEnabled(level)) return;
    const fields = requestFields(request, reply);
    if (error) log.info({ ...fields, error }, 'response not delivered');
    else log[level](fields, 'request completed');
  }
}

/**
 * Per-request hooks: the `x-request-id` response header, the request's asynchronous context
 * (so the application's own lines carry the id: `logging/request-context.ts`), entered again
 * before the handler because a body arrives through stream events that do not keep it, and
 * the line for a client that hangs up before its answer (`info`: nothing failed here).
 */
export function registerRequestLogging(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    runWithRequestId(request.id, done);
  });
  app.addHook('preHandler', (request, _reply, done) => {
    // Only a request whose body came through stream events has lost the context.
    if (request.body === undefined) done();
    else runWithRequestId(request.id, done);
  });
  app.addHook('onRequestAbort', (request, done) => {
    request.log.info({ method: request.method, url: request.url, route: routeOf(request) }, 'request aborted');
    done();
  });
}

/**
 * Fastify's logging options: the application's own pino instance (one stream, one redaction),
 * our request ids (`request_id` on every line), our request lines, and malformed HTTP answered
 * in the error shape.
 */
export function requestLoggingOptions(logger: Logger) {
  const instance = pinoLoggerOf(logger);
  return {
    loggerInstance: instance as FastifyBaseLogger,
    logController: new RequestLogController(),
    genReqId: requestIdOf,
    requestIdHeader: false as const,
    childLoggerFactory: (parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) =>
      requestChildLogger(parent as PinoLogger, bindings, options) as FastifyBaseLogger,
    clientErrorHandler: answerClientError(instance),
  };
}

/**
 * Fastify's `frameworkErrors`: a URL that cannot be decoded (`GET /%`) is refused before
 * routing, so no hook runs and Fastify writes no request line: answered in the error shape and
 * logged here, in the same shape as every other request's line.
 */
export function answerFrameworkError(error: Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = toTokenkeeperError(error);
  request.log.info({ method: request.method, url: request.url, status_code: mapped.status, error_code: mapped.code }, 'request completed');
  return sendError(reply, mapped);
}
