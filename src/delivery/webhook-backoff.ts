/**
 * When a failed delivery is tried again. Exponential (`baseMs` doubling per failed attempt, at
 * most `maxMs`) with "equal jitter": half the step fixed, half random. The random half spreads
 * the retries of many deliveries that failed together (a receiver that was down for an hour
 * must not get every event back in the same second when it returns: the thundering herd); the
 * fixed half keeps a retry from landing right after a failure. Retries stop after `windowMs`
 * from the event (or from a manual redelivery): the delivery is then `failed`.
 */
export interface WebhookRetryPolicy {
  baseMs: number;
  maxMs: number;
  /** How long a delivery keeps being retried. */
  windowMs: number;
}

/** 10 s, 20 s, 40 s … up to 2 h between attempts, for 24 hours: about 20 attempts in all. */
export const DEFAULT_WEBHOOK_RETRY: Readonly<WebhookRetryPolicy> = Object.freeze({ baseMs: 10_000, maxMs: 2 * 3_600_000, windowMs: 24 * 3_600_000 });

/** The delay before the next attempt after `attempts` failed ones (1 = after the first). */
export function webhookRetryDelay(attempts: number, policy: WebhookRetryPolicy, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.floor(step / 2 + (random() * step) / 2);
}

/** When to try again, or null when that would be past `retryUntil` (the delivery has failed). */
export function nextWebhookAttempt(now: number, attempts: number, retryUntil: number, policy: WebhookRetryPolicy, random?: () => number): number | null {
  const at = now + webhookRetryDelay(attempts, policy, random);
  return at > retryUntil ? null : at;
}
