import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { TokenkeeperError, type ErrorCode } from '../errors.ts';

const ANSWERS: Record<string, { code: ErrorCode; message?: string }> = {
  HPE_HEADER_OVERFLOW: { code: 'headers_too_large' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout' },
};

/**
 * Node's `clientError`: bytes that are not HTTP (or headers too large, or a request that never
 * finished arriving) never reach Fastify, so there is no reply object. The answer is written
 * raw, in the API's error shape with a request id (RFC 9112 §2.2: a server that receives an
 * invalid request line should answer 400), and the connection is closed: after a framing error
 * nothing more on it can be trusted. Logged at `debug`: scanners send such bytes all day.
 */
export function answerClientError(logger: FastifyBaseLogger) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    // A reset connection has nobody to answer (https://nodejs.org/api/http.html#event-clienterror).
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const answer = ANSWERS[error.code ?? ''] ?? { code: 'invalid_request', message: 'The request is not valid HTTP/1.1.' };
    const refusal = new TokenkeeperError(answer.code, answer.message);
    const requestId = randomUUID();
    logger.debug({ request_id: requestId, code: refusal.code, error: { name: error.name, code: error.code, message: error.message } }, 'malformed request refused');
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ error: { ...refusal.toJSON(), request_id: requestId } });
    socket.end(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  };
}
