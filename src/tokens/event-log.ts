import type { Clock } from '../clock.ts';
import type { EventBus, EventMap, EventName } from '../events.ts';
import type { Logger } from '../logger.ts';
import { appendEvent, type Database, type NewEvent } from '../store/index.ts';
import { eventPayload } from './event-payload.ts';

/** The events an operator should notice in the logs without going looking. */
const WARNINGS = new Set<EventName>(['connection.needs_reauth', 'connection.refresh_token_lost', 'connection.degraded', 'token.refresh_failed']);

const LOGGED: EventName[] = [
  'connection.created',
  'connection.reconnected',
  'connection.needs_reauth',
  'connection.refresh_token_lost',
  'connection.degraded',
  'connection.recovered',
  'connection.revoked',
  'connection.deleted',
  'token.refreshed',
  'token.refresh_failed',
  'action.executed',
];

/**
 * Events whose rows are written by the commit that causes them, inside its statement, rather than
 * here after it: those of a successful refresh (refresh-commits.ts), the hottest write there is,
 * where a round trip of its own cost the sweep one of the twelve it made per refresh. Here they
 * are only logged.
 */
const WRITTEN_BY_THEIR_COMMIT = new Set<EventName>(['token.refreshed', 'connection.recovered']);

/** The event log's row for an event: the payload in the API's shape (`event-payload.ts`). */
export function eventLogRow<K extends EventName>(name: K, payload: EventMap[K], createdAt: number): NewEvent {
  const { connectionId, integrationKey, ...rest } = payload as unknown as Record<string, unknown> & { connectionId: string; integrationKey: string };
  return { type: name, connectionId, integrationKey, data: eventPayload(rest), createdAt };
}

/**
 * The append-only event log: every lifecycle transition of a connection becomes a row, and a
 * `connection event` log line, both with the payload in the API's shape (`event-payload.ts`).
 */
export function subscribeEventLog(bus: EventBus, db: Database, clock: Clock, logger?: Logger): () => void {
  const unsubscribers = LOGGED.map((name) =>
    bus.on(name, async (payload) => {
      const row = eventLogRow(name, payload, clock.now());
      const fields = { event: name, connection_id: row.connectionId, integration: row.integrationKey, ...row.data };
      if (WARNINGS.has(name)) logger?.warn('connection event', fields);
      else logger?.info('connection event', fields);
      if (!WRITTEN_BY_THEIR_COMMIT.has(name)) await appendEvent(db, row);
    }),
  );
  return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
}
