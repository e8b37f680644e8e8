import { sendProxyRequest } from './proxy-request.ts';
import { baseUrlOf, segment, sendRequest, type ApiRequest, type Transport } from './send-request.ts';
import type {
  Action,
  ActionExecution,
  ActionPreview,
  ApiKey,
  Connection,
  ConnectionEvent,
  ConnectionFilter,
  ConnectSession,
  ConnectSessionInput,
  CreatedApiKey,
  DeletedConnection,
  ImportConnectionInput,
  Integration,
  IntegrationChanges,
  IntegrationInput,
  OwnerTokenResponse,
  Page,
  TokenResponse,
} from './wire-types.ts';

export interface ClientOptions {
  /** Where Tokenkeeper answers, e.g. `http://localhost:3170` (a path prefix is kept). */
  url: string | URL;
  /** An API key (`tokenkeeper keys create`, or `POST /v1/api-keys`), sent as a bearer token. */
  apiKey: string;
  /** The fetch to use (a proxy agent, instrumentation); the global fetch by default. */
  fetch?: typeof fetch;
  /**
   * Abort each request after this many milliseconds. Unset by default: a token request may
   * wait for a refresh in progress, which the server bounds itself. For `proxyFetch`, the wait
   * for the answer's headers only: reading a long body is bounded by your own signal.
   */
  timeoutMs?: number;
}

export interface TokenOptions {
  /** Seconds the token must still be valid for; refreshed first when it is not. */
  minValidity?: number;
}

export interface OwnerTokenOptions extends TokenOptions {
  /** The owner whose connection to use; may be left out with `fallback: 'system'`. */
  ownerId?: string;
  /** `system`: the integration's system connection when the owner has no usable one. */
  fallback?: 'system' | 'none';
}

export interface ListConnectionsOptions extends ConnectionFilter {
  /** 1 to 500 (100 by default). */
  limit?: number;
  /** The `next` cursor of the previous page. */
  after?: string;
}

/**
 * A typed client for Tokenkeeper's HTTP API (`/v1`). Bodies keep their wire spelling
 * (`access_token`, `expires_at`); options of the client itself are camelCase. Every method
 * rejects with a `TokenkeeperApiError` for an answer that is not a success.
 *
 * ```ts
 * const tokenkeeper = createClient({ url: 'http://localhost:3170', apiKey: process.env.TOKENKEEPER_API_KEY! });
 * const { access_token } = await tokenkeeper.getToken(connectionId, { minValidity: 60 });
 * ```
 */
export class TokenkeeperClient {
  readonly #transport: Transport;

  constructor(options: ClientOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('createClient needs an apiKey.');
    this.#transport = {
      baseUrl: baseUrlOf(options.url),
      apiKey: options.apiKey,
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: options.timeoutMs,
    };
  }

  #send<T>(request: ApiRequest): Promise<T> {
    return sendRequest<T>(this.#transport, request);
  }

  // --- tokens -----------------------------------------------------------------------------

  /** An access token valid for at least `minValidity` seconds, refreshed first if needed. */
  getToken(connectionId: string, options: TokenOptions = {}): Promise<TokenResponse> {
    return this.#send({ method: 'GET', path: `v1/connections/${segment(connectionId)}/token`, query: { min_validity: options.minValidity } });
  }

  /** The owner's token for an integration, or (with `fallback: 'system'`) the system token. */
  getTokenForOwner(integration: string, options: OwnerTokenOptions): Promise<OwnerTokenResponse> {
    return this.#send({
      method: 'GET',
      path: `v1/integrations/${segment(integration)}/token`,
      query: { owner_id: options.ownerId, fallback: options.fallback, min_validity: options.minValidity },
    });
  }

  /** Refreshes now, whatever the token's expiry, and returns the new token. */
  refresh(connectionId: string): Promise<TokenResponse> {
    return this.#send({ method: 'POST', path: `v1/connections/${segment(connectionId)}/refresh` });
  }

  // --- connections ------------------------------------------------------------------------

  /** One page of connections, oldest first; follow `next` (or use `allConnections`). */
  listConnections(options: ListConnectionsOptions = {}): Promise<Page<Connection>> {
    return this.#send({
      method: 'GET',
      path: 'v1/connections',
      query: { integration: options.integration, owner_id: options.ownerId, status: options.status, kind: options.kind, limit: options.limit, after: options.after },
    });
  }

  /** Every connection matching the filter, page after page. */
  async *allConnections(filter: ConnectionFilter & { pageSize?: number } = {}): AsyncGenerator<Connection, void, undefined> {
    const { pageSize, ...rest } = filter;
    let after: string | undefined;
    do {
      const page = await this.listConnections({ ...rest, limit: pageSize, after });
      yield* page.data;
      after = page.next ?? undefined;
    } while (after !== undefined);
  }

  getConnection(connectionId: string): Promise<Connection> {
    return this.#send({ method: 'GET', path: `v1/connections/${segment(connectionId)}` });
  }

  /** Revokes the tokens at the provider where it can, then deletes the connection. */
  deleteConnection(connectionId: string): Promise<DeletedConnection> {
    return this.#send({ method: 'DELETE', path: `v1/connections/${segment(connectionId)}` });
  }

  /** Keeps an existing token set; the same owner and `account_id` again updates that connection. */
  importConnection(input: ImportConnectionInput): Promise<Connection> {
    return this.#send({ method: 'POST', path: 'v1/connections', body: input });
  }

  /** The connection's lifecycle events, newest first. */
  listEvents(connectionId: string, options: { limit?: number } = {}): Promise<{ data: ConnectionEvent[] }> {
    return this.#send({ method: 'GET', path: `v1/connections/${segment(connectionId)}/events`, query: { limit: options.limit } });
  }

  // --- connect ----------------------------------------------------------------------------

  /** Starts connecting an account: send the user's browser to the returned `connect_url`. */
  createConnectSession(input: ConnectSessionInput): Promise<ConnectSession> {
    return this.#send({ method: 'POST', path: 'v1/connect/sessions', body: input });
  }

  // --- integrations -----------------------------------------------------------------------

  listIntegrations(): Promise<{ data: Integration[] }> {
    return this.#send({ method: 'GET', path: 'v1/integrations' });
  }

  getIntegration(key: string): Promise<Integration> {
    return this.#send({ method: 'GET', path: `v1/integrations/${segment(key)}` });
  }

  createIntegration(input: IntegrationInput): Promise<Integration> {
    return this.#send({ method: 'POST', path: 'v1/integrations', body: input });
  }

  updateIntegration(key: string, changes: IntegrationChanges): Promise<Integration> {
    return this.#send({ method: 'PATCH', path: `v1/integrations/${segment(key)}`, body: changes });
  }

  /** Refused while connections use it, unless `force` (which deletes them too). */
  async deleteIntegration(key: string, options: { force?: boolean } = {}): Promise<void> {
    await this.#send<undefined>({ method: 'DELETE', path: `v1/integrations/${segment(key)}`, query: { force: options.force } });
  }

  // --- proxy ----------------------------------------------------------------------------

  /**
   * A call to the provider's API through Tokenkeeper's proxy (docs/proxy.md), with the
   * connection's token: `tk.proxy.fetch` of the library, over HTTP. `path` is relative to the
   * integration's API base URL (`/gmail/v1/users/me/profile?fields=emailAddress`) and is sent
   * as written. Resolves with the provider's answer as a standard `Response`, whatever its
   * status (a 404 from the provider is a Response); rejects with a `TokenkeeperApiError` when
   * Tokenkeeper refused or could not complete the call (`proxy_path_invalid`,
   * `connection_needs_reauth`, `proxy_timeout`, …). Rules for the path, headers, redirects and
   * the body: src/client/proxy-request.ts.
   */
  proxyFetch(connectionId: string, path: string, init?: RequestInit): Promise<Response> {
    return sendProxyRequest(this.#transport, connectionId, path, init);
  }

  // --- actions --------------------------------------------------------------------------

  /** The actions there are (docs/actions.md); with `integration`, those it offers and whether they are enabled for it. */
  listActions(options: { integration?: string } = {}): Promise<{ data: Action[] }> {
    return this.#send({ method: 'GET', path: 'v1/actions', query: { integration: options.integration } });
  }

  /** The exact request `executeAction` would send, token redacted; validates the input and sends nothing. */
  previewAction(connectionId: string, action: string, input: Record<string, unknown>): Promise<ActionPreview> {
    return this.#send({ method: 'POST', path: `v1/connections/${segment(connectionId)}/actions/${segment(action)}/preview`, body: input });
  }

  /**
   * Runs the action on the user's behalf. Rejects with a `TokenkeeperApiError` whose
   * `details.outcome` says why it failed. With `idempotencyKey`, exactly once: the outcome is
   * kept 24 h and a retry with the key (after a timeout, from a redelivering queue) gets it
   * again (`replayed: true`) without sending.
   */
  executeAction(connectionId: string, action: string, input: Record<string, unknown>, options: { idempotencyKey?: string } = {}): Promise<ActionExecution> {
    return this.#send({
      method: 'POST',
      path: `v1/connections/${segment(connectionId)}/actions/${segment(action)}/execute`,
      body: input,
      ...(options.idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': options.idempotencyKey } }),
    });
  }

  // --- API keys ---------------------------------------------------------------------------

  listApiKeys(): Promise<{ data: ApiKey[] }> {
    return this.#send({ method: 'GET', path: 'v1/api-keys' });
  }

  /** A new API key; `key` is in this answer only, keep it now. */
  createApiKey(name: string): Promise<CreatedApiKey> {
    return this.#send({ method: 'POST', path: 'v1/api-keys', body: { name } });
  }

  /** Revokes a key at once (idempotent); any key may revoke any key, itself included. */
  revokeApiKey(id: string): Promise<ApiKey> {
    return this.#send({ method: 'DELETE', path: `v1/api-keys/${segment(id)}` });
  }
}

/** `createClient({ url, apiKey })`: the same as `new TokenkeeperClient(options)`. */
export function createClient(options: ClientOptions): TokenkeeperClient {
  return new TokenkeeperClient(options);
}
