import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TokenkeeperError, errorRegistry, type ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { isStorageUnavailable } from '../store/index.ts';

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
  if (typeof fastifyError?.code === 'string' && FASTIFY_CODES[fastifyError.code]) {
    return new TokenkeeperError(FASTIFY_CODES[fastifyError.code]!);
  }
  if (isStorageUnavailable(error)) return new TokenkeeperError('storage_unavailable', undefined, { cause: error, retryAfterMs: 1_000 });
  if (error instanceof SyntaxError || fastifyError?.statusCode === 400) return new TokenkeeperError('invalid_json');
  if (fastifyError?.statusCode === 413) return new TokenkeeperError('payload_too_large');
  if (fastifyError?.statusCode === 415) return new TokenkeeperError('unsupported_media_type');
  return new TokenkeeperError('internal_error', undefined, { cause: error });
}

/** The one error-to-JSON mapper: `{ error: { code, message, details? } }` everywhere. */
export function sendError(reply: FastifyReply, error: TokenkeeperError): FastifyReply {
  if (error.retryAfterMs !== undefined) reply.header('retry-after', Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  if (error.code === 'unauthorized' || error.code === 'invalid_cron_secret') reply.header('www-authenticate', 'Bearer');
  return reply.code(errorRegistry[error.code].status).type('application/json').send({ error: error.toJSON() });
}

export function errorHandler(logger: Logger) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const mapped = toTokenkeeperError(error);
    if (mapped.status >= 500) {
      logger.error('request failed', { method: request.method, route: request.routeOptions.url, code: mapped.code, error: mapped.cause ?? error });
    }
    return sendError(reply, mapped);
  };
}
