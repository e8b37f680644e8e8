/**
 * The bounded set of reasons an action can fail for (issue 9, item 8). The same words appear in
 * API answers (`details.outcome`), connection events and the `outcome` label of
 * `action_executions_total`, so a dashboard can count them and an application can branch on them
 * without parsing messages. A successful execution's outcome is `ok`. The set is closed: a new
 * failure mode maps onto one of these (classify-outcome.ts), never onto a new label, so the
 * metric's cardinality stays what it is.
 */
export const ACTION_FAILURE_REASONS = [
  /** The action is switched off, for its name (TOKENKEEPER_ACTIONS_DISABLED) or for the integration. */
  'action_disabled',
  /** The input does not match the action's schema; nothing was sent. */
  'validation_error',
  /** The connection needs its user again (needs_reauth, revoked, pending, refresh token lost). */
  'connection_needs_reauth',
  /** No usable access token could be had right now (refresh in progress or failing, integration failing). */
  'token_unavailable',
  /** The provider refused the request: a 4xx answer, or a 2xx that says it failed (Slack `ok: false`). */
  'provider_rejected',
  /** The provider failed: a 5xx answer, a network error, or an answer the action could not read. */
  'provider_error',
  /** The provider answered 429 (or its documented equivalent), or the integration's outbound limit is spent. */
  'rate_limited',
  /** No answer in time; the provider may or may not have acted on the request. */
  'timeout',
  /** The integration's circuit breaker is open after repeated failures; nothing was sent. */
  'circuit_open',
] as const;

export type ActionFailureReason = (typeof ACTION_FAILURE_REASONS)[number];

/** Every value of the `outcome` label: `ok` and the failure reasons. */
export const ACTION_OUTCOMES = ['ok', ...ACTION_FAILURE_REASONS] as const;

export type ActionOutcome = (typeof ACTION_OUTCOMES)[number];

const REASONS: ReadonlySet<string> = new Set(ACTION_FAILURE_REASONS);

export function isActionFailureReason(value: unknown): value is ActionFailureReason {
  return typeof value === 'string' && REASONS.has(value);
}
