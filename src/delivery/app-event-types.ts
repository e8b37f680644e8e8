/**
 * The events the application hears of through its webhooks (issue 8, item 5; docs/webhooks.md).
 * The names are a contract: receivers switch on them.
 *
 * - `connection.created`: a new connection (connect flow, import, or an integration's system
 *   connection being minted);
 * - `connection.refreshed`: a refresh stored a new token set. Frequent, so off by default: only
 *   endpoints whose filter names it receive it;
 * - `connection.refresh_failed`: a refresh failed for a transient reason (network, 5xx, 429); the
 *   connection keeps being retried, and becomes `degraded` after repeated failures;
 * - `connection.needs_reauth`: the provider refused permanently; the user must reconnect;
 * - `connection.recovered`: back to `active`: a `degraded` connection refreshed successfully, or
 *   one that was `needs_reauth`, `revoked` or `degraded` was reconnected through the connect flow;
 * - `connection.deleted`: deleted through the API or CLI;
 * - `integration.failing`: the provider rejected the integration's own credentials;
 * - `integration.recovered`: the integration was fixed (updated) after failing.
 */
export const APP_EVENT_TYPES = [
  'connection.created',
  'connection.refreshed',
  'connection.refresh_failed',
  'connection.needs_reauth',
  'connection.recovered',
  'connection.deleted',
  'integration.failing',
  'integration.recovered',
] as const;

export type AppEventType = (typeof APP_EVENT_TYPES)[number];

/** What an endpoint receives when it names no events: everything but `connection.refreshed`. */
export const DEFAULT_APP_EVENT_TYPES: readonly AppEventType[] = Object.freeze(APP_EVENT_TYPES.filter((type) => type !== 'connection.refreshed'));

export function isAppEventType(value: unknown): value is AppEventType {
  return typeof value === 'string' && (APP_EVENT_TYPES as readonly string[]).includes(value);
}
