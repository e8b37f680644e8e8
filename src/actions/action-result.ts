import { TokenkeeperError, type ErrorCode } from '../errors.ts';
import { parseRetryAfter } from '../oauth/index.ts';
import type { ActionDefinition, ActionResponse } from './action-definition.ts';
import { ActionReadError } from './action-read-error.ts';
import { classifyResponse } from './classify-outcome.ts';
import { isActionFailureReason, type ActionFailureReason } from './outcome-reasons.ts';

/** What one execution came to, for the answer, the connection event and the metrics. */
export type ActionResult =
  | { outcome: 'ok'; status: number; result: unknown }
  | {
      outcome: ActionFailureReason;
      /** The provider's HTTP status, or null when it did not answer. */
      status: number | null;
      message: string;
      /** The provider's own short error code (`channel_not_found`, `ErrorInvalidRecipients`), never its body. */
      providerError: string | null;
      /** From the provider's `Retry-After`, when it sent one. */
      retryAfterMs: number | null;
    };

const MAX_PROVIDER_ERROR_LENGTH = 100;

/**
 * Reads the provider's answer: a non-2xx is classified by status (`classifyResponse`); a 2xx goes
 * to the action's `read`, which may still call it a failure (`ActionReadError`). A `read` that
 * throws anything else could not make sense of the answer: `provider_error`. `now` (the service
 * clock's, in ms) dates a `Retry-After` given as an HTTP date.
 */
export function readActionResponse(action: Pick<ActionDefinition, 'name' | 'read'>, response: ActionResponse, now: number): ActionResult {
  const outcome = classifyResponse(response);
  if (outcome !== 'ok') {
    const providerError = providerErrorCode(response.body);
    return {
      outcome,
      status: response.status,
      message: `The provider answered ${response.status}${providerError ? ` (${providerError})` : ''}.`,
      providerError,
      retryAfterMs: parseRetryAfter(response.headers['retry-after'] ?? null, now),
    };
  }
  try {
    return { outcome: 'ok', status: response.status, result: action.read ? action.read(response) : response.body };
  } catch (error) {
    const failure = readFailure(error);
    if (failure !== null) {
      return {
        outcome: failure.reason,
        status: response.status,
        message: failure.message,
        providerError: failure.providerError?.slice(0, MAX_PROVIDER_ERROR_LENGTH) ?? null,
        retryAfterMs: parseRetryAfter(response.headers['retry-after'] ?? null, now),
      };
    }
    return {
      outcome: 'provider_error',
      status: response.status,
      message: `The provider answered ${response.status} with a body ${action.name} could not read.`,
      providerError: null,
      retryAfterMs: null,
    };
  }
}

/**
 * What a `read` threw to say a 2xx failed: an `ActionReadError`, or any error with a `reason`
 * from the outcome set (and optionally a string `providerError`). The structural form lets a
 * module in TOKENKEEPER_ACTIONS_DIR fail an answer without importing Tokenkeeper at run time.
 */
function readFailure(error: unknown): { reason: ActionFailureReason; message: string; providerError: string | null } | null {
  if (error instanceof ActionReadError) return error;
  if (!(error instanceof Error)) return null;
  const { reason, providerError } = error as Error & { reason?: unknown; providerError?: unknown };
  if (!isActionFailureReason(reason)) return null;
  return { reason, message: error.message, providerError: typeof providerError === 'string' ? providerError : null };
}

/**
 * The provider's short error code from an error body, in the shapes the built-in providers
 * document: `{"error": "invalid_auth"}` (Slack, OAuth), `{"error": {"code": "ErrorInvalidRecipients"}}`
 * (Microsoft Graph), `{"error": {"status": "INVALID_ARGUMENT"}}` (Google), `{"message": "Not Found"}`
 * (GitHub). Only a short single-line string is kept: it goes into events and answers, a body never does.
 */
export function providerErrorCode(body: unknown): string | null {
  if (body === null || typeof body !== 'object') return null;
  const record = body as Record<string, unknown>;
  const error = record.error;
  const candidates = [
    error,
    error !== null && typeof error === 'object' ? (error as Record<string, unknown>).code : undefined,
    error !== null && typeof error === 'object' ? (error as Record<string, unknown>).status : undefined,
    record.message,
  ];
  for (const candidate of candidates) {
    if (typeof candidate === 'string' && candidate.trim() !== '' && !/[\r\n]/.test(candidate)) return candidate.trim().slice(0, MAX_PROVIDER_ERROR_LENGTH);
  }
  return null;
}

/**
 * The API error for a failed outcome, with `details.outcome` (and the provider's status and error
 * code when there was an answer). A refused request is `provider_rejected` (502); a provider that
 * failed or rate-limited is `provider_unavailable` (503, `Retry-After` when known) as everywhere
 * else in the API; the other reasons keep their own codes.
 */
export function actionResultError(result: Exclude<ActionResult, { outcome: 'ok' }>): TokenkeeperError {
  const details: Record<string, unknown> = { outcome: result.outcome };
  if (result.status !== null) details.provider_status = result.status;
  if (result.providerError !== null) details.provider_error = result.providerError;
  return new TokenkeeperError(FAILURE_CODES[result.outcome], result.message, {
    details,
    ...(result.retryAfterMs !== null ? { retryAfterMs: result.retryAfterMs } : {}),
  });
}

const FAILURE_CODES: Record<ActionFailureReason, ErrorCode> = {
  action_disabled: 'action_disabled',
  validation_error: 'invalid_request',
  connection_needs_reauth: 'connection_needs_reauth',
  token_unavailable: 'provider_unavailable',
  provider_rejected: 'provider_rejected',
  provider_error: 'provider_unavailable',
  rate_limited: 'provider_unavailable',
  timeout: 'proxy_timeout',
  circuit_open: 'circuit_open',
};

/**
 * The API error for an execution that ended in an error rather than an answer: a Tokenkeeper
 * error keeps its code, message and `Retry-After`, with `details.outcome` added; anything else
 * (a timeout, a reset connection) becomes the code of its outcome, with a message that says
 * nothing of its internals.
 */
export function actionErrorFor(error: unknown, reason: ActionFailureReason): TokenkeeperError {
  if (error instanceof TokenkeeperError) {
    return new TokenkeeperError(error.code, error.message, {
      details: { ...error.details, outcome: reason },
      cause: error,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    });
  }
  const message = reason === 'timeout' ? 'The provider did not answer in time; it may or may not have acted on the request.' : undefined;
  return new TokenkeeperError(FAILURE_CODES[reason], message, { details: { outcome: reason }, cause: error });
}
