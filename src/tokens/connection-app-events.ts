import { appEvent, type AppEventType } from '../delivery/index.ts';
import type { ConnectionRecord, NewAppEvent } from '../store/index.ts';
import { connectionToJson } from './connection-json.ts';

/** What a connection event names of its integration (an `IntegrationView` has both). */
export interface IntegrationKeys {
  record: { key: string };
  provider: { key: string };
}

/**
 * A connection event for the application's webhooks (delivery/app-event-types.ts): the
 * connection as `GET /v1/connections/:id` shows it (never a token), plus what the event adds
 * (`previous_status`, `error_code`, `reason`), in the API's spelling. Written to the outbox in the
 * transaction of the change (store/change-feed.ts `outbox`).
 */
export function connectionAppEvent(
  type: Extract<AppEventType, `connection.${string}`>,
  record: ConnectionRecord,
  integration: IntegrationKeys,
  now: number,
  extra: Record<string, unknown> = {},
): NewAppEvent {
  return appEvent(type, { connection: connectionToJson(record, integration.record.key, integration.provider.key), ...extra }, now);
}

/**
 * After a stored refresh: `connection.refreshed`, and `connection.recovered` when it brought the
 * connection back from `recoveredFrom` (`degraded`, or `needs_reauth` for a system connection
 * minted again: refresh-commits.ts `recoveredStatusOf`).
 */
export function refreshedAppEvents(record: ConnectionRecord, integration: IntegrationKeys, recoveredFrom: string | null, now: number): NewAppEvent[] {
  const events = [connectionAppEvent('connection.refreshed', record, integration, now)];
  if (recoveredFrom !== null) events.push(connectionAppEvent('connection.recovered', record, integration, now, { previous_status: recoveredFrom }));
  return events;
}

/** The statuses a reconnect through the connect flow recovers a connection from. */
const RECOVERABLE = new Set(['needs_reauth', 'revoked', 'degraded']);

/** After a reconnect: `connection.recovered` when the connection was not usable (or degraded) before. */
export function reconnectedAppEvents(record: ConnectionRecord, integration: IntegrationKeys, previousStatus: string, now: number): NewAppEvent[] {
  return RECOVERABLE.has(previousStatus) && record.status === 'active'
    ? [connectionAppEvent('connection.recovered', record, integration, now, { previous_status: previousStatus })]
    : [];
}
