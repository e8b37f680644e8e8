import type { ActionFailureReason } from './outcome-reasons.ts';

/**
 * Thrown by an action's `read` when a 2xx answer still means the call failed: Slack answers
 * HTTP 200 with `{"ok": false, "error": "channel_not_found"}`. `providerError` is the provider's
 * own short error code, kept for the caller and the event (never a body).
 */
export class ActionReadError extends Error {
  readonly reason: ActionFailureReason;
  readonly providerError: string | null;

  constructor(reason: ActionFailureReason, message: string, options: { providerError?: string | null } = {}) {
    super(message);
    this.name = 'ActionReadError';
    this.reason = reason;
    this.providerError = options.providerError ?? null;
  }
}
