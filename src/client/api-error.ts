import type { ErrorCode } from '../errors.ts';

/**
 * A stable code from the server's registry (docs/errors.md), or `unexpected_response` when the
 * answer was not Tokenkeeper's error body (a proxy's HTML page, a truncated body). Open-ended,
 * because a newer server may answer with a code this client does not know yet.
 */
export type ApiErrorCode = ErrorCode | 'unexpected_response' | (string & {});

/**
 * Any answer of the API that is not a success, as data: the HTTP status, the stable `code`, the
 * server's `message` and `details`, the request id to quote in a bug report, and how long to wait
 * before trying again when the server said so (`Retry-After`, RFC 9110 §10.2.3). Network
 * failures (refused, reset, timed out) are not answers: they reject with fetch's own error.
 */
export class TokenkeeperApiError extends Error {
  override readonly name = 'TokenkeeperApiError';
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** The `x-request-id` of the answer (or the body's `request_id`); null when it had none. */
  readonly requestId: string | null;
  /** Seconds to wait before retrying, from `Retry-After`; null when the answer had none. */
  readonly retryAfter: number | null;

  constructor(fields: { status: number; code: ApiErrorCode; message: string; details?: Record<string, unknown>; requestId: string | null; retryAfter: number | null }) {
    super(fields.message);
    this.status = fields.status;
    this.code = fields.code;
    this.details = fields.details;
    this.requestId = fields.requestId;
    this.retryAfter = fields.retryAfter;
  }
}

/** Reads an error answer; `text` is its body, whatever it holds. */
export function apiErrorFrom(response: Response, text: string): TokenkeeperApiError {
  const body = parseJson(text) as { error?: { code?: unknown; message?: unknown; details?: unknown; request_id?: unknown } } | undefined;
  const error = body?.error;
  const requestId = response.headers.get('x-request-id') ?? (typeof error?.request_id === 'string' ? error.request_id : null);
  const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
  if (typeof error?.code !== 'string' || typeof error.message !== 'string') {
    return new TokenkeeperApiError({
      status: response.status,
      code: 'unexpected_response',
      message: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} without a Tokenkeeper error body.`,
      requestId,
      retryAfter,
    });
  }
  const details = error.details !== null && typeof error.details === 'object' && !Array.isArray(error.details) ? (error.details as Record<string, unknown>) : undefined;
  return new TokenkeeperApiError({ status: response.status, code: error.code, message: error.message, details, requestId, retryAfter });
}

/** A body that does not parse is `undefined`, not an exception: the status still tells a story. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * `Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3); both become whole
 * seconds from now, never negative. Anything else is ignored rather than guessed at.
 */
function retryAfterSeconds(value: string | null): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
