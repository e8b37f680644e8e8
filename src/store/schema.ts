import type { Generated } from 'kysely';

/**
 * Row shapes. Times are epoch milliseconds (integers); lists and objects are JSON text so the
 * same columns work on SQLite and PostgreSQL. Every `*_sealed` column holds AES-256-GCM
 * ciphertext from `crypto/` bound to its row (associated data `<table>:<id>:<column>`).
 */
export interface IntegrationsTable {
  id: string;
  key: string;
  provider: string;
  display_name: string | null;
  client_id: string;
  client_secret_sealed: string | null;
  /** JSON array of scopes. */
  scopes: string;
  /** Null: the service's own callback URL. */
  redirect_uri: string | null;
  /** JSON object: provider settings (issuer, endpoints, tenant, ...). */
  settings: string;
  refresh_buffer_seconds: number;
  /** 'client_credentials' when the integration's system connection is minted by that grant. */
  system_grant: string | null;
  /** JSON array of scopes for the system connection (client credentials). */
  system_scopes: string | null;
  enabled: number;
  /** The integration's kill switch for actions (migration 0010): 1 on, 0 off. */
  actions_enabled: number;
  /**
   * Set while the provider rejects the integration's own credentials (`invalid_client`,
   * `unauthorized_client`, HTTP 401 at the token endpoint): when that started, the provider's
   * error code and its description. Cleared by any update of the integration.
   */
  failing_since: number | null;
  failure_code: string | null;
  failure_message: string | null;
  created_at: number;
  /** Bumped on every change (strictly increasing), so other processes can tell a cached copy is old. */
  updated_at: number;
}

export type ConnectionStatus = 'pending' | 'active' | 'degraded' | 'needs_reauth' | 'revoked';

export interface ConnectionsTable {
  id: string;
  integration_id: string;
  /** The app's end-user id; null for a system connection. */
  owner_id: string | null;
  kind: 'user' | 'system';
  status: ConnectionStatus;
  status_reason: string | null;
  account_id: string | null;
  account_label: string | null;
  /** Sealed JSON: { access_token, refresh_token, id_token }. */
  tokens_sealed: string | null;
  token_type: string | null;
  /** JSON array or null. */
  scopes: string | null;
  expires_at: number | null;
  /** When the access token was obtained: with expires_at it gives the lifetime the provider granted. */
  issued_at: number | null;
  /** When the refresh token was last used successfully (idle refresh tokens expire at some providers). */
  last_refresh_at: number | null;
  /** JSON object: non-secret facts from the provider (instance_url, team, ...). */
  metadata: string;
  /** Fencing token: bumped on every token write; writes say `WHERE version = ?`. */
  version: number;
  lease_owner: string | null;
  lease_until: number | null;
  failure_count: number;
  /** Cooldown: no refresh attempt before this time. */
  next_attempt_at: number | null;
  /**
   * When a refresh request was sent whose answer has not been processed yet (set under the lease
   * before the call, cleared with its outcome). Still set when a later holder takes the lease:
   * that call died with its process, and the provider may have rotated the refresh token.
   */
  unanswered_refresh_at: number | null;
  last_error_code: string | null;
  last_error_message: string | null;
  created_at: number;
  updated_at: number;
  /** When the connection entered its current status (migration 0006; kept by the store's writes). */
  status_changed_at: number | null;
  /** The first failed refresh since the last success; null while refreshes succeed. */
  failing_since: number | null;
}

export interface ConnectSessionsTable {
  id: string;
  integration_id: string;
  owner_id: string | null;
  kind: 'user' | 'system';
  redirect_to: string | null;
  /** sha256 of the connect-link token (the link itself is never stored). */
  link_hash: string;
  /** sha256 of the OAuth `state`; set when the link is opened. */
  state_hash: string | null;
  code_verifier_sealed: string | null;
  nonce: string | null;
  expires_at: number;
  opened_at: number | null;
  consumed_at: number | null;
  created_at: number;
}

export interface EventsTable {
  id: Generated<number>;
  type: string;
  connection_id: string | null;
  integration_key: string | null;
  /** JSON object, never secrets. */
  data: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  /** First characters of the key, shown in listings so a person can tell keys apart. */
  prefix: string;
  key_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface JobStateTable {
  name: string;
  last_started_at: number | null;
  last_finished_at: number | null;
  /** JSON report of the last run. */
  last_report: string | null;
}

/**
 * One integration's outbound limits shared by every instance (PostgreSQL; see
 * outbound-limits-table.ts). Times are the instances' clock values.
 */
export interface OutboundLimitsTable {
  integration_id: string;
  /** The token bucket's content at `refilled_at` (fractional: refilled by elapsed time). */
  tokens: number;
  refilled_at: number;
  /** JSON object: permit id → when that concurrency slot lapses if never given back. */
  slots: string;
  /** Consecutive transient failures while closed. */
  circuit_failures: number;
  /** Null: closed. In the future: open. In the past: half-open (one probe may go out). */
  circuit_open_until: number | null;
  /** The permit that is the half-open probe, and when that claim lapses. */
  circuit_probe: string | null;
  circuit_probe_until: number | null;
}

/** An operator alert, one row per (type, key) (see alerts-table.ts). */
export interface AlertsTable {
  id: string;
  type: string;
  key: string;
  severity: 'LOW' | 'MEDIUM' | 'HIGH';
  /** JSON object of string labels. */
  labels: string;
  summary: string;
  /** The notification group it belongs to (type and grouping labels), fixed when raised. */
  group_key: string;
  state: 'firing' | 'resolved';
  first_seen_at: number;
  last_seen_at: number;
  resolved_at: number | null;
  last_notified_at: number | null;
  notification_count: number;
  /** 1 once a MEDIUM alert firing too long was raised to HIGH. */
  escalated: number;
}

/** A notification group of the policy engine (alerts-table.ts). */
export interface AlertGroupsTable {
  group_key: string;
  /** JSON object: the labels that define the group. */
  labels: string;
  created_at: number;
  /** When the group is next evaluated: created + group_wait, then last flush + group_interval. */
  next_flush_at: number;
  last_flush_at: number | null;
  /** JSON object: channel → what it was last told (see alerts/policy.ts `ChannelMemory`). */
  notified: string;
  /** Compare-and-set counter: a flush claims the group by bumping it. */
  version: number;
}

/** The alert outbox and delivery log: one group notification for one channel. */
export interface AlertNotificationsTable {
  id: string;
  /** Shared by the rows of one notification sent to several channels. */
  notification_id: string;
  group_key: string;
  channel: string;
  kind: 'firing' | 'resolved' | 'repeat' | 'test';
  severity: 'LOW' | 'MEDIUM' | 'HIGH';
  alert_count: number;
  /** JSON: the GroupNotification handed to the channel. */
  payload: string;
  /** pending → sending → sent | failed; `silenced`: recorded, never sent. */
  status: 'pending' | 'sending' | 'sent' | 'failed' | 'silenced';
  attempts: number;
  next_attempt_at: number;
  /** While `sending`: when the claim lapses (the sender died). */
  claim_until: number | null;
  created_at: number;
  sent_at: number | null;
  /** When the console fallback printed it after this channel failed. */
  fallback_at: number | null;
  error: string | null;
}

/** A silence: alerts matching every matcher inside [starts_at, ends_at) are not sent. */
export interface SilencesTable {
  id: string;
  /** JSON array of { name, value }: name is `type`, `severity` or a label name. Empty: everything. */
  matchers: string;
  starts_at: number;
  ends_at: number;
  created_by: string;
  comment: string;
  created_at: number;
  /** Set when expired by hand (ends_at is then moved to that time too). */
  expired_at: number | null;
}

/**
 * The application's webhook outbox (migration 0007): one row per event the application must hear
 * of, written in the transaction of the change that caused it (store/change-feed.ts, `outbox`).
 */
export interface AppEventsTable {
  /** The order events were written in: deliveries to one endpoint go out in it. */
  seq: Generated<number>;
  /** `evt_…`: the `webhook-id` of every delivery of it, so receivers can drop duplicates. */
  id: string;
  /** e.g. `connection.needs_reauth` (delivery/app-event-types.ts). */
  type: string;
  /** JSON object in the API's shape (snake_case, ISO 8601 times); never a token or secret. */
  data: string;
  created_at: number;
  /** When its deliveries were written (one per subscribed endpoint); null until then. */
  dispatched_at: number | null;
}

/** An endpoint of the application that receives events (`POST /v1/webhooks`, or the environment's). */
export interface AppWebhooksTable {
  /** `whk_…`. */
  id: string;
  url: string;
  /** JSON array of the event types it receives. */
  events: string;
  /** The `whsec_…` signing secret, sealed (associated data `app_webhooks:<id>:secret`). */
  secret_sealed: string;
  /** `api`: created through the API or CLI; `environment`: TOKENKEEPER_APP_WEBHOOK_URL. */
  source: 'api' | 'environment';
  created_at: number;
  updated_at: number;
}

/** One event for one endpoint: the delivery log, and the retry state (webhook-deliveries-table.ts). */
export interface WebhookDeliveriesTable {
  /** `dlv_…`. */
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  /** Attempts that reached an outcome (an answer, an error or a timeout). */
  attempts: number;
  /** When the next attempt is due; null once delivered or failed for good. */
  next_attempt_at: number | null;
  /** Retries stop (status `failed`) after this: 24 h after the event, or after a manual retry. */
  retry_until: number;
  /** While an instance sends it: when that claim lapses (the sender died), and whose it is. */
  claimed_until: number | null;
  claim_token: string | null;
  last_attempt_at: number | null;
  /** The receiver's HTTP status on the last attempt; null when it did not answer. */
  response_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
  created_at: number;
}

/** Per-minute counts of alert happenings that have no row of their own (migration 0008). */
export interface AlertCountsTable {
  /** What is counted: `deduplicated` (a raise of an alert already firing). */
  name: string;
  /** Start of the minute, epoch ms. */
  bucket: number;
  alert_type: string;
  count: number;
}

/**
 * The stored outcome of an action `execute` sent with an Idempotency-Key (migration 0010): a
 * claim while it runs, then the answer the caller got, for 24 h.
 */
export interface ActionExecutionsTable {
  /** Digest of connection id, action name and Idempotency-Key. */
  id: string;
  connection_id: string;
  action: string;
  /** Digest of the action's input: the same key with another input is refused. */
  request_digest: string;
  state: 'running' | 'done';
  /** The claiming execution's token, while `running`. */
  claim_token: string | null;
  /** Until when the claim holds; a `running` row past it belongs to an execution that died. */
  claimed_until: number | null;
  /** The outcome (`ok` or a failure reason), once `done`. */
  outcome: string | null;
  /** The HTTP status and JSON body the caller got, sealed. */
  answer_sealed: string | null;
  created_at: number;
  expires_at: number;
}

export interface Schema {
  integrations: IntegrationsTable;
  connections: ConnectionsTable;
  connect_sessions: ConnectSessionsTable;
  events: EventsTable;
  api_keys: ApiKeysTable;
  job_state: JobStateTable;
  outbound_limits: OutboundLimitsTable;
  alerts: AlertsTable;
  alert_groups: AlertGroupsTable;
  alert_notifications: AlertNotificationsTable;
  silences: SilencesTable;
  alert_counts: AlertCountsTable;
  app_events: AppEventsTable;
  app_webhooks: AppWebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  action_executions: ActionExecutionsTable;
}
