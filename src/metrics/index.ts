import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { countAlertNotifications, countFiringAlerts } from '../alerts/index.ts';
import type { EventBus } from '../events.ts';
import { STUCK_POLICY, STUCK_STATES, type StuckConnections } from '../health/index.ts';
import { countConnectionsByStatus, countWebhookDeliveries, listIntegrations, type Database } from '../store/index.ts';

export interface Metrics {
  registry: Registry;
  render(): Promise<string>;
  contentType: string;
  stop(): void;
}

/**
 * Prometheus metrics, fed by the event bus (domain code does not know metrics exist). Each
 * instance has its own registry so two services in one process (tests, embedding) do not clash.
 *
 * Process and Node.js metrics keep prom-client's standard names (`process_cpu_seconds_total`,
 * `nodejs_heap_size_used_bytes` …) so stock Node.js dashboards and alerts work unchanged; ours
 * are `tokenkeeper_*`. Refresh metrics carry the integration as well as the provider: two
 * integrations of one provider (two Google apps) fail for different reasons.
 */
export function createMetrics(
  events: EventBus,
  db: Database,
  options: {
    defaultMetrics?: boolean;
    /** Stuck-connection detection, counted at each scrape (`tokenkeeper_stuck_connections`); absent, the gauge is not registered. */
    stuck?: Pick<StuckConnections, 'count'>;
  } = {},
): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  // Cache hits are its `outcome="cached"` series (a second counter for them only drifted).
  const tokenRequests = new Counter({
    name: 'tokenkeeper_token_requests_total',
    help: 'Token requests by outcome (cached, refreshed, waited, error).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const refreshes = new Counter({
    name: 'tokenkeeper_refreshes_total',
    help: 'Refresh attempts by integration, provider and outcome (success, transient, permanent).',
    labelNames: ['integration', 'provider', 'outcome'],
    registers: [registry],
  });
  const refreshLatency = new Histogram({
    name: 'tokenkeeper_refresh_duration_seconds',
    help: 'Time to refresh a token at the provider, by integration and provider.',
    labelNames: ['integration', 'provider'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const discoveryFailures = new Counter({
    name: 'tokenkeeper_discovery_failures_total',
    help: 'Failed discovery (metadata) requests while resolving an integration for a refresh, connect or other provider call.',
    labelNames: ['integration', 'provider'],
    registers: [registry],
  });
  new Gauge({
    name: 'tokenkeeper_integration_failing',
    help: "1 while the provider rejects the integration's own credentials (invalid_client and the like), else 0.",
    labelNames: ['integration', 'provider'],
    registers: [registry],
    // From the database, not from events: the state outlives restarts and is shared by every process.
    async collect() {
      const integrations = await listIntegrations(db);
      this.reset();
      for (const integration of integrations) {
        this.set({ integration: integration.key, provider: integration.provider }, integration.failingSince === null ? 0 : 1);
      }
    },
  });
  new Gauge({
    name: 'tokenkeeper_connections',
    help: 'Connections by status.',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await countConnectionsByStatus(db);
      this.reset();
      for (const status of ['pending', 'active', 'degraded', 'needs_reauth', 'revoked']) this.set({ status }, counts[status] ?? 0);
    },
  });
  // Alerts and their deliveries, from the tables every instance shares (the same numbers on each
  // instance: aggregate with max, not sum). A series appears once something of that kind exists.
  new Gauge({
    name: 'tokenkeeper_alerts_firing',
    help: 'Operator alerts firing now, by type and severity.',
    labelNames: ['type', 'severity'],
    registers: [registry],
    async collect() {
      const counts = await countFiringAlerts(db);
      this.reset();
      for (const { type, severity, count } of counts) this.set({ type, severity }, count);
    },
  });
  new Counter({
    name: 'tokenkeeper_alert_notifications_total',
    help: 'Alert notifications by channel and outcome: sent, failed (given up after its retries) or silenced (recorded, not sent).',
    labelNames: ['channel', 'status'],
    registers: [registry],
    async collect() {
      const counts = await countAlertNotifications(db);
      this.reset();
      for (const { channel, status, count } of counts) if (status !== 'pending') this.inc({ channel, status }, count);
    },
  });
  new Gauge({
    name: 'tokenkeeper_alert_notifications_pending',
    help: 'Alert notifications waiting for a first or next delivery attempt, by channel.',
    labelNames: ['channel'],
    registers: [registry],
    async collect() {
      const counts = await countAlertNotifications(db);
      this.reset();
      for (const { channel, status, count } of counts) if (status === 'pending') this.set({ channel }, count);
    },
  });
  new Gauge({
    name: 'tokenkeeper_webhook_deliveries',
    help: 'Deliveries of events to the application’s webhook endpoints, by status: pending (waiting for a first or next attempt), delivered, failed (given up after 24 h). Delivered ones are pruned after 7 days, failed ones after 30.',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await countWebhookDeliveries(db);
      this.reset();
      for (const status of ['pending', 'delivered', 'failed'] as const) this.set({ status }, counts.find((entry) => entry.status === status)?.count ?? 0);
    },
  });
  // The proxy to provider APIs (src/proxy/): the method label is one of the seven methods it answers.
  const proxyRequests = new Counter({
    name: 'tokenkeeper_proxy_requests_total',
    help: 'Proxied calls by integration, method and the status class of the answer the caller got (2xx, 3xx, 4xx, 5xx).',
    labelNames: ['integration', 'method', 'status_class'],
    registers: [registry],
  });
  const proxyLatency = new Histogram({
    name: 'tokenkeeper_proxy_duration_seconds',
    help: "Time from a proxied call's arrival to its answer's headers (token, rate limiter, retries and the provider included), by integration.",
    labelNames: ['integration'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const actionExecutions = new Counter({
    name: 'tokenkeeper_action_executions_total',
    help: 'Action executions by integration, action and outcome (ok, or one of the bounded failure reasons of docs/actions.md). Answers given again for an Idempotency-Key are not counted: nothing was executed.',
    labelNames: ['integration', 'action', 'outcome'],
    registers: [registry],
  });
  const actionLatency = new Histogram({
    name: 'tokenkeeper_action_duration_seconds',
    help: 'Time an action execution took, from the request to the read answer (token, limits, retries and the provider included), by integration and action.',
    labelNames: ['integration', 'action'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const proxyRateLimited = new Counter({
    name: 'tokenkeeper_proxy_rate_limited_total',
    help: "Proxied calls held back by a rate limit, by integration and source: the provider's 429 (provider) or the integration's own outbound limit (tokenkeeper).",
    labelNames: ['integration', 'source'],
    registers: [registry],
  });
  const stuck = options.stuck;
  if (stuck) {
    new Gauge({
      name: 'tokenkeeper_stuck_connections',
      help: 'Connections stuck longer than their threshold, by state (connect_session, degraded, needs_reauth) and severity.',
      labelNames: ['state', 'severity'],
      registers: [registry],
      // Counted from the database at each scrape, as GET /v1/stuck lists them.
      async collect() {
        const counts = await stuck.count();
        this.reset();
        for (const state of STUCK_STATES) this.set({ state, severity: STUCK_POLICY[state].severity }, counts[state]);
      },
    });
  }

  const unsubscribers = [
    events.on('token.served', ({ outcome }) => {
      tokenRequests.inc({ outcome });
    }),
    events.on('token.refreshed', ({ integrationKey, provider, durationMs }) => {
      refreshes.inc({ integration: integrationKey, provider, outcome: 'success' });
      refreshLatency.observe({ integration: integrationKey, provider }, durationMs / 1000);
    }),
    events.on('token.refresh_failed', ({ integrationKey, provider, durationMs, transient }) => {
      refreshes.inc({ integration: integrationKey, provider, outcome: transient ? 'transient' : 'permanent' });
      refreshLatency.observe({ integration: integrationKey, provider }, durationMs / 1000);
    }),
    events.on('integration.discovery_failed', ({ integrationKey, provider }) => {
      discoveryFailures.inc({ integration: integrationKey, provider });
    }),
    events.on('proxy.completed', ({ integrationKey, method, status, durationMs }) => {
      proxyRequests.inc({ integration: integrationKey, method, status_class: `${Math.floor(status / 100)}xx` });
      proxyLatency.observe({ integration: integrationKey }, durationMs / 1000);
    }),
    events.on('proxy.rate_limited', ({ integrationKey, source }) => {
      proxyRateLimited.inc({ integration: integrationKey, source });
    }),
    events.on('action.executed', ({ integrationKey, action, outcome, durationMs, replayed }) => {
      if (replayed) return;
      actionExecutions.inc({ integration: integrationKey, action, outcome });
      actionLatency.observe({ integration: integrationKey, action }, durationMs / 1000);
    }),
  ];

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    stop: () => unsubscribers.forEach((unsubscribe) => unsubscribe()),
  };
}
