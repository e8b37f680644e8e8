/**
 * The HTTP API's request and response bodies as the server answers them today, in their wire
 * spelling (snake_case, times as ISO 8601 strings). Written by hand from the route handlers
 * (src/http/api-routes.ts, src/tokens/connection-json.ts, src/integrations/integration-json.ts)
 * so that `tokenkeeper/client` stays a zero-dependency module; `test/client.test.ts` runs every
 * operation against a real server.
 */

/** An ISO 8601 date-time, e.g. `2025-01-31T12:00:00.000Z`. */
export type IsoDateTime = string;

/** `GET /v1/connections/:id/token`, `POST /v1/connections/:id/refresh`. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  /** Null when the provider gave no lifetime (the token is served until it is refused). */
  expires_at: IsoDateTime | null;
  /** Seconds left when the answer was made; null when the lifetime is unknown. */
  expires_in: number | null;
  scopes: string[] | null;
  connection_id: string;
}

/** `GET /v1/integrations/:key/token`: which connection answered, the owner's or the system one. */
export interface OwnerTokenResponse extends TokenResponse {
  source: 'owner' | 'system';
}

export type ConnectionStatus = 'pending' | 'active' | 'degraded' | 'needs_reauth' | 'revoked';
export type ConnectionKind = 'user' | 'system';

/** A connection as the API shows it: never a token, only what is known about it. */
export interface Connection {
  id: string;
  integration: string;
  provider: string;
  /** Null for a system connection. */
  owner_id: string | null;
  kind: ConnectionKind;
  status: ConnectionStatus;
  status_reason: string | null;
  account_id: string | null;
  account_label: string | null;
  token_type: string | null;
  scopes: string[] | null;
  expires_at: IsoDateTime | null;
  last_refresh_at: IsoDateTime | null;
  failure_count: number;
  next_attempt_at: IsoDateTime | null;
  last_error: { code: string; message: string | null } | null;
  metadata: Record<string, unknown>;
  created_at: IsoDateTime;
  updated_at: IsoDateTime;
}

/** Filters of `GET /v1/connections`. */
export interface ConnectionFilter {
  integration?: string;
  ownerId?: string;
  status?: ConnectionStatus;
  kind?: ConnectionKind;
}

/** One page of a listing; `next` is the cursor for the following page, null on the last. */
export interface Page<T> {
  data: T[];
  next: string | null;
}

/** `DELETE /v1/connections/:id`: deleted here; revoked at the provider when it offers revocation. */
export interface DeletedConnection {
  deleted: true;
  revoked_at_provider: boolean;
  revocation_error: string | null;
}

/** `POST /v1/connections`: an existing token set to keep (give `expires_in` or `expires_at`, not both). */
export interface ImportConnectionInput {
  integration: string;
  /** Required for a user connection; absent for a system one. */
  owner_id?: string | null;
  kind?: ConnectionKind;
  access_token: string;
  refresh_token?: string | null;
  id_token?: string | null;
  token_type?: string | null;
  expires_in?: number | null;
  expires_at?: IsoDateTime | null;
  scopes?: string[] | string | null;
  account_id?: string | null;
  account_label?: string | null;
  /** Your own small JSON (at most 8 KiB, 8 levels deep), returned as given. */
  metadata?: Record<string, unknown> | null;
}

/** `GET /v1/connections/:id/events`: a connection's lifecycle, newest first. */
export interface ConnectionEvent {
  id: number;
  /** e.g. `connection.created`, `connection.refreshed`, `connection.needs_reauth`. */
  type: string;
  integration: string | null;
  data: Record<string, unknown>;
  created_at: IsoDateTime;
}

export type IntegrationStatus = 'ok' | 'failing' | 'disabled';

/** An integration as the API shows it: never the client secret, only whether one is set. */
export interface Integration {
  id: string;
  key: string;
  provider: string;
  display_name: string | null;
  client_id: string;
  has_client_secret: boolean;
  scopes: string[];
  redirect_uri: string;
  settings: Record<string, unknown>;
  refresh_buffer_seconds: number;
  system_grant: 'client_credentials' | null;
  system_scopes: string[] | null;
  enabled: boolean;
  /** The kill switch for actions: false answers every action of this integration with `501 action_disabled`. */
  actions_enabled: boolean;
  status: IntegrationStatus;
  /** Why the provider refuses the integration's own credentials, while `status` is `failing`. */
  failure: { code: string | null; message: string | null; since: IsoDateTime } | null;
  created_at: IsoDateTime;
  updated_at: IsoDateTime;
}

/** `PATCH /v1/integrations/:key`: the fields to change (key and provider cannot change). */
export interface IntegrationChanges {
  display_name?: string | null;
  client_id?: string;
  client_secret?: string | null;
  scopes?: string[] | string;
  redirect_uri?: string | null;
  /** Provider settings, checked against the provider's catalog entry (docs/providers.md). */
  settings?: Record<string, unknown>;
  refresh_buffer_seconds?: number;
  system_grant?: 'client_credentials' | null;
  system_scopes?: string[] | string | null;
  enabled?: boolean;
  actions_enabled?: boolean;
}

/** `POST /v1/integrations`. */
export interface IntegrationInput extends IntegrationChanges {
  /** Lowercase letters, digits, `-` and `_`, at most 63 characters. */
  key: string;
  /** A provider of the catalog: `google`, `github`, `custom`, `oidc`, … */
  provider: string;
  client_id: string;
}

/** `POST /v1/connect/sessions`. */
export interface ConnectSessionInput {
  integration: string;
  /** Required for a user connection; absent for a system one. */
  owner_id?: string | null;
  kind?: ConnectionKind;
  /** Where the user's browser returns afterwards; must be on an allowed origin. */
  redirect_to?: string | null;
}

/** A started connect session: send the user's browser to `connect_url` before `expires_at`. */
export interface ConnectSession {
  id: string;
  connect_url: string;
  expires_at: IsoDateTime;
  integration: string;
  owner_id: string | null;
}

/** An API key as listed: never the key itself, only its first characters. */
export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: IsoDateTime;
  last_used_at: IsoDateTime | null;
  revoked_at: IsoDateTime | null;
}

/** `POST /v1/api-keys`: the only answer that ever holds the key. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

/** An action, as `GET /v1/actions` lists it (docs/actions.md). */
export interface Action {
  /** `<provider>.<area>.<verb>`, e.g. `google.gmail.send`. */
  name: string;
  description: string;
  providers: string[];
  /** Only these integrations offer it; null: every integration of those providers. */
  integrations: string[] | null;
  /** False when switched off by name or, listed for one integration, by its `actions_enabled`. */
  enabled: boolean;
  source: 'built-in' | 'module';
  /** The configured integrations that offer it, each with whether it is enabled there. */
  available_for: Array<{ integration: string; enabled: boolean }>;
  /** The JSON Schema of its input. */
  input_schema: Record<string, unknown>;
}

/** `POST /v1/connections/:id/actions/:action/preview`: the request that would be sent, token redacted. */
export interface ActionPreview {
  action: string;
  connection_id: string;
  integration: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** Lower-case names; `authorization: Bearer [redacted]`. */
  headers: Record<string, string>;
  body: unknown;
}

/**
 * The outcome of an execution: `ok`, or a reason it failed (a failure is thrown as a
 * `TokenkeeperApiError` whose `details.outcome` is one of these).
 */
export type ActionOutcome =
  | 'ok'
  | 'action_disabled'
  | 'validation_error'
  | 'connection_needs_reauth'
  | 'token_unavailable'
  | 'provider_rejected'
  | 'provider_error'
  | 'rate_limited'
  | 'timeout'
  | 'circuit_open';

/** `POST /v1/connections/:id/actions/:action/execute` when it succeeded. */
export interface ActionExecution {
  action: string;
  connection_id: string;
  integration: string;
  outcome: 'ok';
  provider_status: number;
  /** What the action read from the provider's answer. */
  result: unknown;
  duration_ms: number;
  executed_at: IsoDateTime;
  /** True: the stored answer of an earlier execute with the same Idempotency-Key; nothing was sent. */
  replayed: boolean;
}
