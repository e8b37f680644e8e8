import { newId } from '../ids.ts';
import type { NewAppEvent } from '../store/index.ts';
import type { AppEventType } from './app-event-types.ts';

/**
 * One event for the outbox, with its stable id (`evt_…`): the `webhook-id` of every delivery
 * and retry of it, which receivers use to drop duplicates. `data` is in the API's shape
 * (snake_case keys, ISO 8601 times) and never holds a token or secret; producers build it from
 * the same `*ToJson` functions the API answers with.
 */
export function appEvent(type: AppEventType, data: Record<string, unknown>, now: number): NewAppEvent {
  return { id: newId('evt'), type, data, createdAt: now };
}
