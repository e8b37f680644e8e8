import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The id of the HTTP request whose work is running, so that every line logged on its behalf
 * carries it, including lines from domain code (`tokens/`, `oauth/`) that knows nothing of HTTP
 * and logs through the application logger. The logger reads it for each line (pino's `mixin`).
 * Work started by a request (a refresh it triggered) keeps the id to its end.
 */
const requestIds = new AsyncLocalStorage<string>();

export function runWithRequestId<T>(requestId: string, run: () => T): T {
  return requestIds.run(requestId, run);
}

export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}
