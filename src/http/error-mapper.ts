import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TokenkeeperError, errorRegistry, isTransientError, type ErrorCode } from '../errors.ts';
import { isStorageUnavailable } from '../store/index.ts';
import { noteAnsweredError } from './request-id.ts';
import { validationError, type RequestPart, type SchemaValidationError } from './validation-problems.ts';

/** Fastify's own errors that are the client's mistake, mapped to our stable codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_ERR_BAD_URL: 'invalid_request',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_request',
};

export function toTokenkeeperError(error: unknown): TokenkeeperError {
  if (error instanceof TokenkeeperError) return error;
  const fastifyError = error as Partial<FastifyError> & { type?: string };
  // A schema's verdict: every problem in words (`invalid_request`, or `invalid_id` for the path), never the validator's text.
  if (fastifyError?.code === 'FST_ERR_VALIDATION' && Array.isArray(fastifyError.validation)) {
    return validationError(fastifyError.validation as unknown as SchemaValidationError[], (fastifyError.validationContext ?? 'body') as RequestPart);
  }
  if (typeof fastifyError?.code === 'string' && FASTIFY_CODES[fastifyError.code]) {
    return new TokenkeeperError(FASTIFY_CODES[fastifyError.code]!);
  }
  if (isStorageUnavailable(error)) return new TokenkeeperError('storage_unavailable', undefined, { cause: error, retryAfterMs: 1_000 });
  if (error instanceof SyntaxError || fastifyError?.statusCode === 400) return new TokenkeeperError('invalid_json');
  if (fastifyError?.statusCode === 413) return new TokenkeeperError('payload_too_large');
  if (fastifyError?.statusCode === 415) return new TokenkeeperError('unsupported_media_type');
  return new TokenkeeperError('internal_error', undefined, { cause: error });
}

/** The one error-to-JSON mapper: `{ error: { code, message, details?, request_id } }` everywhere. */
export function sendError(reply: FastifyReply, error: TokenkeeperError): FastifyReply {
  if (error.retryAfterMs !== undefined) reply.header('retry-after', Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  if (error.code === 'unauthorized' || error.code === 'invalid_cron_secret' || error.code === 'metrics_unauthorized') reply.header('www-authenticate', 'Bearer');
  // Also here, not only in the onRequest hook: a URL refused before routing runs no hooks.
  reply.header('x-request-id', reply.request.id);
  noteAnsweredError(reply.request, error.code);
  // Serialized here, not by the route's response schema: a route whose 503 is its own body (the
  // health check's) must still answer an error raised before its handler in the error shape.
  return reply
    .code(errorRegistry[error.code].status)
    .type('application/json')
    .serializer(JSON.stringify)
    .send({ error: { ...error.toJSON(), request_id: reply.request.id } });
}

/**
 * Maps any thrown error to the error body and logs it on the request's logger (so the line
 * carries the request id): 5xx at `error` with the cause, the transient 503s at `warn`, and
 * 401s at `warn` (a client with a wrong key or secret is worth noticing). Other 4xx are the
 * client's business; the `request completed` line records their code.
 */
export function errorHandler() {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const mapped = toTokenkeeperError(error);
    const fields = { method: request.method, route: request.routeOptions.url, status_code: mapped.status, code: mapped.code };
    if (mapped.status >= 500) {
      const cause = mapped.cause ?? (mapped === error ? undefined : error);
      if (isTransientError(mapped.code)) request.log.warn({ ...fields, error: cause }, 'request failed');
      else request.log.error({ ...fields, error: cause ?? mapped }, 'request failed');
    } else if (mapped.status === 401) {
      request.log.warn(fields, 'request unauthorized');
    }
    return sendError(reply, mapped);
  };
}
