import type { EventBus, EventName } from '../events.ts';
import { appendEvent, type Database } from '../store/index.ts';
import type { Clock } from '../clock.ts';

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
];

/** The append-only event log: every lifecycle transition of a connection becomes a row. */
export function subscribeEventLog(bus: EventBus, db: Database, clock: Clock): () => void {
  const unsubscribers = LOGGED.map((name) =>
    bus.on(name, async (payload) => {
      const { connectionId, integrationKey, ...data } = payload as unknown as Record<string, unknown> & { connectionId: string; integrationKey: string };
      await appendEvent(db, { type: name, connectionId, integrationKey, data, createdAt: clock.now() });
    }),
  );
  return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
}
