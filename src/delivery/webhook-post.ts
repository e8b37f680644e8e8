import { isChannelDeliveryError } from '../alerts/channels/delivery-error.ts';
import { postToChannel } from '../alerts/channels/http-post.ts';

/** One delivery attempt as the delivery log records it. */
export interface WebhookPostOutcome {
  /** A 2xx answer. */
  delivered: boolean;
  /** The receiver's HTTP status; null when it did not answer (refused, reset, timed out). */
  status: number | null;
  /** Why it failed, for the log and the operator; null when delivered. Names the URL's origin only. */
  error: string | null;
  /** `signal` ended the attempt (shutdown): not the receiver's fault, so not counted against it. */
  aborted: boolean;
}

export interface WebhookPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Connection, answer and body together; longer is a failure (a hanging receiver). */
  timeoutMs: number;
  /** Aborted when the instance shuts down. */
  signal: AbortSignal;
}

/**
 * POSTs one signed delivery, through the same HTTP primitive as the alert channels
 * (`postToChannel`: a timeout covering connection, answer and body; redirects not followed, so a
 * 3xx is a failure and the signed body never goes to a URL the application did not register;
 * messages name only the URL's origin, whose path and query may carry the receiver's token).
 * Only a 2xx counts as delivered. Never throws.
 */
export async function postWebhook(post: WebhookPost): Promise<WebhookPostOutcome> {
  try {
    const answer = await postToChannel({ channel: 'webhook', ...post, secrets: [] });
    return { delivered: true, status: answer.status, error: null, aborted: false };
  } catch (error) {
    if (!isChannelDeliveryError(error)) throw error;
    const message = error.message.slice('webhook: '.length);
    if (error.code === 'aborted') return { delivered: false, status: null, error: `${message} (shutting down)`, aborted: true };
    return { delivered: false, status: error.status ?? null, error: message, aborted: false };
  }
}
