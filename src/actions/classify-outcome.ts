import { isTokenkeeperError, type ErrorCode } from '../errors.ts';
import type { ActionResponse } from './action-definition.ts';
import { isActionFailureReason, type ActionFailureReason, type ActionOutcome } from './outcome-reasons.ts';

/** Where in an execution an error arose: getting the token, or calling the provider. */
export type ActionStage = 'token' | 'call';

/**
 * The one table from what happened to an outcome (STYLE.md §4), tested case by case in
 * test/actions-outcome.test.ts.
 *
 * A provider answer:
 *
 * | answer                                                         | outcome             |
 * |----------------------------------------------------------------|---------------------|
 * | 2xx                                                            | `ok` (the action's `read` may still say otherwise) |
 * | 429 (RFC 6585 §4)                                              | `rate_limited`      |
 * | 403 with `Retry-After` or `X-RateLimit-Remaining: 0` (GitHub's documented primary and secondary limits) | `rate_limited` |
 * | other 4xx                                                      | `provider_rejected` |
 * | 5xx, 1xx, 3xx (redirects are not followed off the base URL)    | `provider_error`    |
 *
 * An error (the reason in a Tokenkeeper error's `details.outcome` wins over everything below, so
 * the proxy can say precisely what happened):
 *
 * | error                                                          | outcome                   |
 * |----------------------------------------------------------------|---------------------------|
 * | `action_disabled`                                              | `action_disabled`         |
 * | `invalid_request`, `invalid_json`                              | `validation_error`        |
 * | `connection_needs_reauth`, `connection_revoked`, `connection_pending`, `refresh_token_lost`, `no_refresh_token` | `connection_needs_reauth` |
 * | `circuit_open`                                                 | `circuit_open`            |
 * | `proxy_rate_limited` (the integration's outbound limit)        | `rate_limited`            |
 * | `proxy_timeout`                                                | `timeout`                 |
 * | `proxy_upstream_unreachable`, `proxy_response_too_large`       | `provider_error`          |
 * | any other Tokenkeeper error while getting the token            | `token_unavailable`       |
 * | `TimeoutError` (AbortSignal.timeout), undici's connect/headers/body timeouts, `ETIMEDOUT`, anywhere in the cause chain | `timeout` |
 * | anything else while calling the provider (refused, reset, DNS) | `provider_error`          |
 */
export function classifyResponse(response: Pick<ActionResponse, 'status' | 'headers'>): ActionOutcome {
  const { status } = response;
  if (status >= 200 && status < 300) return 'ok';
  if (status === 429) return 'rate_limited';
  if (status === 403 && (header(response.headers, 'retry-after') !== null || header(response.headers, 'x-ratelimit-remaining') === '0')) {
    return 'rate_limited';
  }
  if (status >= 400 && status < 500) return 'provider_rejected';
  return 'provider_error';
}

const NEEDS_USER: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'connection_needs_reauth',
  'connection_revoked',
  'connection_pending',
  'refresh_token_lost',
  'no_refresh_token',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** The outcome of an error thrown while getting the token (`token`) or calling the provider (`call`). See `classifyResponse` for the table. */
export function classifyError(error: unknown, stage: ActionStage): ActionFailureReason {
  if (isTokenkeeperError(error)) {
    const tagged = error.details?.outcome;
    if (isActionFailureReason(tagged)) return tagged;
    if (error.code === 'action_disabled') return 'action_disabled';
    if (error.code === 'invalid_request' || error.code === 'invalid_json') return 'validation_error';
    if (NEEDS_USER.has(error.code)) return 'connection_needs_reauth';
    if (error.code === 'circuit_open') return 'circuit_open';
    if (error.code === 'proxy_rate_limited') return 'rate_limited';
    if (error.code === 'proxy_timeout') return 'timeout';
    if (error.code === 'proxy_upstream_unreachable' || error.code === 'proxy_response_too_large') return 'provider_error';
    if (stage === 'token') return 'token_unavailable';
  }
  if (isTimeout(error)) return 'timeout';
  return stage === 'token' ? 'token_unavailable' : 'provider_error';
}

/** Either of the above, for a caller holding an answer or an error. */
export function classifyOutcome(
  what: { response: Pick<ActionResponse, 'status' | 'headers'> } | { error: unknown; stage: ActionStage },
): ActionOutcome {
  return 'response' in what ? classifyResponse(what.response) : classifyError(what.error, what.stage);
}

/** Whether `error`, or an error in its `cause` chain (fetch wraps undici's in a TypeError), is a timeout. */
function isTimeout(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth += 1) {
    const { name, code, cause } = current as { name?: unknown; code?: unknown; cause?: unknown };
    if (name === 'TimeoutError' || (typeof code === 'string' && TIMEOUT_CODES.has(code))) return true;
    current = cause;
  }
  return false;
}

function header(headers: Readonly<Record<string, string>>, name: string): string | null {
  const value = headers[name];
  return value === undefined ? null : value.trim();
}
