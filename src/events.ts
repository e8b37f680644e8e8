import type { Logger } from './logger.ts';

/**
 * The typed lifecycle event map. Domain modules emit; the event log, metrics and (later) alerts
 * subscribe. Nothing in `tokens/` knows who listens.
 */
export interface ConnectionRef {
  connectionId: string;
  integrationKey: string;
  provider: string;
  ownerId: string | null;
}

export interface EventMap {
  'connection.created': ConnectionRef & { accountId: string | null; kind: 'user' | 'system'; imported: boolean };
  'connection.reconnected': ConnectionRef & { accountId: string | null; previousStatus: string };
  'connection.needs_reauth': ConnectionRef & { reason: string; errorCode: string };
  /** A refresh died after the provider rotated the refresh token (crash or stall past the lease). */
  'connection.refresh_token_lost': ConnectionRef & { reason: string; interruptedAt: number };
  'connection.degraded': ConnectionRef & { reason: string; failureCount: number };
  'connection.recovered': ConnectionRef & { previousStatus: string };
  'connection.revoked': ConnectionRef & { revokedAtProvider: boolean; reason: string };
  'connection.deleted': ConnectionRef;
  'token.refreshed': ConnectionRef & { durationMs: number; rotated: boolean; expiresAt: number | null; trigger: RefreshTrigger };
  'token.refresh_failed': ConnectionRef & {
    durationMs: number;
    errorCode: string;
    transient: boolean;
    description: string;
    trigger: RefreshTrigger;
  };
  'token.served': { connectionId: string; outcome: 'cached' | 'refreshed' | 'waited' | 'error'; errorCode?: string };
  'circuit.opened': { provider: string; integrationKey: string; failures: number };
  'circuit.closed': { provider: string; integrationKey: string };
  'connect.started': { sessionId: string; integrationKey: string; ownerId: string | null };
  'connect.failed': { sessionId: string | null; integrationKey: string | null; errorCode: string };
  'integration.created': { integrationKey: string; provider: string };
  'integration.updated': { integrationKey: string; provider: string };
  'integration.deleted': { integrationKey: string; provider: string };
  /** The provider rejected the integration's own credentials; its connections are left as they are. */
  'integration.failing': { integrationKey: string; provider: string; errorCode: string; reason: string };
  /** The integration was updated (or otherwise cleared) after failing. */
  'integration.recovered': { integrationKey: string; provider: string };
  /** Discovery (RFC 8414 / OIDC metadata) failed while resolving an integration. */
  'integration.discovery_failed': { integrationKey: string; provider: string; reason: string };
  /**
   * A proxied call was answered (src/proxy/): `status` is what the caller got (the provider's
   * status, or Tokenkeeper's own error status), `durationMs` until that answer's headers.
   */
  'proxy.completed': { integrationKey: string; provider: string; method: string; status: number; durationMs: number; attempts: number };
  /** A proxied call was held back by a rate limit: the provider's 429 (`provider`), or the integration's own outbound limit (`tokenkeeper`). */
  'proxy.rate_limited': { integrationKey: string; provider: string; source: 'provider' | 'tokenkeeper' };
  /**
   * An action's `execute` ended (src/actions/action-service.ts): its outcome (`ok` or one of the
   * bounded failure reasons), the provider's status when it answered, and how long it took.
   * `replayed`: the answer stored for its Idempotency-Key was given again, nothing was sent.
   * Never the input, the provider's body or the token.
   */
  'action.executed': ConnectionRef & {
    action: string;
    outcome: string;
    providerStatus: number | null;
    providerError: string | null;
    durationMs: number;
    replayed: boolean;
  };
}

export type RefreshTrigger = 'request' | 'forced' | 'sweep' | 'idle' | 'system';
export type EventName = keyof EventMap;
type Listener<K extends EventName> = (payload: EventMap[K], name: K) => void | Promise<void>;

/**
 * An event bus where a throwing or rejecting listener can never break the code that emitted
 * (graphile-worker's rule): errors are logged and swallowed. `settled()` lets tests and shutdown
 * wait for asynchronous listeners (such as the event log's insert) to finish.
 */
export class EventBus {
  private readonly listeners = new Map<EventName, Set<Listener<EventName>>>();
  private readonly anyListeners = new Set<(name: EventName, payload: EventMap[EventName]) => void | Promise<void>>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly logger: Logger | undefined;

  constructor(logger?: Logger) {
    this.logger = logger;
  }

  on<K extends EventName>(name: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as unknown as Listener<EventName>);
    return () => set.delete(listener as unknown as Listener<EventName>);
  }

  onAny(listener: (name: EventName, payload: EventMap[EventName]) => void | Promise<void>): () => void {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  emit<K extends EventName>(name: K, payload: EventMap[K]): void {
    const set = this.listeners.get(name);
    if (set) for (const listener of set) this.run(name, () => listener(payload as EventMap[EventName], name));
    for (const listener of this.anyListeners) this.run(name, () => listener(name, payload as EventMap[EventName]));
  }

  /** Resolves when every asynchronous listener started so far has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private run(name: EventName, call: () => void | Promise<void>): void {
    try {
      const result = call();
      if (result && typeof (result as Promise<void>).then === 'function') {
        const tracked = (result as Promise<void>).then(
          () => undefined,
          (error: unknown) => this.logger?.error('event listener failed', { event: name, error }),
        );
        this.pending.add(tracked);
        void tracked.finally(() => this.pending.delete(tracked));
      }
    } catch (error) {
      this.logger?.error('event listener failed', { event: name, error });
    }
  }
}
