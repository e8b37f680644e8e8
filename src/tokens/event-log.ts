import type { Clock } from '../clock.ts';
import type { EventBus, EventName } from '../events.ts';
import type { Logger } from '../logger.ts';
import { appendEvent, type Database } from '../store/index.ts';
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
 * The append-only event log: every lifecycle transition of a connection becomes a row, and a
 * `connection event` log line, both with the payload in the API's shape (`event-payload.ts`).
 */
export function subscribeEventLog(bus: EventBus, db: Database, clock: Clock, logger?: Logger): () => void {
  const unsubscribers = LOGGED.map((name) =>
    bus.on(name, async (payload) => {
      const { connectionId, integrationKey, ...rest } = payload as unknown as Record<string, unknown> & { connectionId: string; integrationKey: string };
      const data = eventPayload(rest);
      const fields = { event: name, connection_id: connectionId, integration: integrationKey, ...data };
      if (WARNINGS.has(name)) logger?.warn('connection event', fields);
      else logger?.info('connection event', fields);
      await appendEvent(db, { type: name, connectionId, integrationKey, data, createdAt: clock.now() });
    }),
  );
  return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
}
