import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Provider } from 'oidc-provider';
import { TokenkeeperError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { createAdminRoutes } from './admin-routes.ts';
import { mintGrants, type MintedGrant, type MintGrantsOptions } from './bulk-grants.ts';
import { createDemoApi } from './demo-api.ts';
import { DEFAULT_FAULTS, parseFaults, type SandboxFaults } from './faults.ts';
import { sendError, sendHtml } from './http-helpers.ts';
import { createInteractionRoutes } from './interaction-routes.ts';
import { renderLandingPage } from './interaction-pages.ts';
import { SandboxStore } from './memory-adapter.ts';
import { buildProviderConfiguration } from './provider-configuration.ts';
import { DEFAULT_REDIRECT_URIS, SANDBOX_DEFAULT_CLIENT, toClientMetadata, type SandboxClient } from './sandbox-client.ts';
import { generateSigningKeys } from './signing-keys.ts';
import { SandboxStateDatabase } from './state-database.ts';
import { createTokenEndpoint, tokenResponseFaults } from './token-endpoint.ts';
import { TokenRequestStats, type SandboxStats } from './token-request-stats.ts';
import { watchProviderEvents } from './provider-events.ts';

export interface SandboxOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on; default `127.0.0.1`. The issuer always uses a loopback address. */
  host?: string;
  /** Access-token (and client-credentials token) lifetime; default 120 s, short on purpose. */
  accessTokenTtlSeconds?: number;
  /** Refresh-token lifetime, renewed on every rotation; default 14 days. */
  refreshTokenTtlSeconds?: number;
  /**
   * Redirect URIs of the pre-registered SANDBOX_DEFAULT_CLIENT; default Tokenkeeper's own
   * callback on localhost and 127.0.0.1. Loopback http URIs match on any port (RFC 8252 §7.3).
   */
  redirectUris?: string[];
  /** More clients; one with the id `tokenkeeper-dev` replaces the default client. */
  clients?: SandboxClient[];
  /** Diagnostics (never tokens); silent when absent. */
  logger?: Logger;
  /** Source of randomness for the fault rates; `Math.random` by default. */
  random?: () => number;
  /**
   * A file (SQLite) to keep grants, tokens (consumed refresh tokens included) and the signing key
   * in, so that a restart forgets nothing; `tokenkeeper serve` uses `<data dir>/sandbox-state.db`.
   * Development only: it holds sandbox secrets in plain text (mode 0600). Without it (the
   * default, and what tests use) everything stays in memory and dies with the sandbox.
   */
  stateFile?: string;
}

export interface SandboxServer {
  /** e.g. `http://127.0.0.1:41234`; the same as `url`. */
  issuer: string;
  url: string;
  port: number;
  /** Where grants and tokens are kept across restarts (the `stateFile` option), or null: in memory only. */
  stateFile: string | null;
  setFaults(partial: Partial<SandboxFaults>): void;
  resetFaults(): void;
  faults(): SandboxFaults;
  /** Revokes every grant, or one account's; later refreshes get `invalid_grant`. Returns the count. */
  revokeGrants(accountId?: string): Promise<number>;
  /**
   * Makes every access token issued so far (or one account's) unknown to the demo API, which then
   * answers 401 `invalid_token`, while grants and refresh tokens keep working: a refresh mends it.
   * Returns how many tokens were dropped.
   */
  expireAccessTokens(accountId?: string): Promise<number>;
  /** Grants with a refresh token each, as if that many accounts had signed in (bulk-grants.ts). */
  mintGrants(options: MintGrantsOptions): Promise<MintedGrant[]>;
  /** Registers a client at run time, replacing one with the same id. */
  addClient(client: SandboxClient): void;
  /** Token-endpoint requests as received, before faults. */
  stats(): SandboxStats;
  resetStats(): void;
  close(): Promise<void>;
}

const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 120;
const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 14 * 24 * 60 * 60;

const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

/**
 * Starts the sandbox OAuth 2.0 / OpenID Connect provider on a plain node:http server:
 * oidc-provider answers the protocol endpoints (discovery, authorization, token, revocation,
 * introspection, userinfo, JWKS); the sandbox's own routes in front of it serve the login and
 * consent pages, the demo API, the admin routes, and the token endpoint's fault switches.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<SandboxServer> {
  const port = checkInteger('port', options.port ?? 0, 0, 65_535);
  const host = options.host ?? '127.0.0.1';
  const accessTokenTtlSeconds = checkInteger('accessTokenTtlSeconds', options.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS, 1, 365 * 24 * 3600);
  const refreshTokenTtlSeconds = checkInteger('refreshTokenTtlSeconds', options.refreshTokenTtlSeconds ?? DEFAULT_REFRESH_TOKEN_TTL_SECONDS, 1, 10 * 365 * 24 * 3600);
  const logger = options.logger ?? silentLogger;
  const random = options.random ?? Math.random;

  let handler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  const server = createServer((req, res) => {
    if (!handler) {
      sendError(res, 503, 'provider_unavailable', 'The sandbox is starting.');
      return;
    }
    handler(req, res).catch((error: unknown) => {
      logger.error('sandbox request failed', { error, path: req.url?.split('?')[0] });
      if (!res.headersSent) sendError(res, 500, 'internal_error', 'Internal error.');
      else res.destroy();
    });
  });

  const state = options.stateFile === undefined ? null : await SandboxStateDatabase.open(options.stateFile, logger);
  let oidc: typeof import('oidc-provider');
  let jwks: { keys: Record<string, unknown>[] };
  try {
    [oidc, jwks] = await Promise.all([import('oidc-provider'), state ? state.signingKeys(generateSigningKeys) : generateSigningKeys(), listen(server, port, host)]);
  } catch (error) {
    state?.close();
    await closeServer(server);
    throw error;
  }
  const actualPort = (server.address() as AddressInfo).port;
  const issuer = `http://${issuerHost(host)}:${actualPort}`;

  const store = new SandboxStore({ persistence: state ?? undefined });
  if (state) store.restore(state.loadEntries(Date.now()));
  let provider: Provider;
  try {
    // A plain-http loopback issuer is fine with oidc-provider: it only insists on https when the
    // issuer says https. Cookies are not marked Secure because Koa sees a plain-http request,
    // and `provider.proxy` stays false: nothing here sits behind a proxy whose X-Forwarded-*
    // headers should be trusted.
    provider = new oidc.Provider(issuer, buildProviderConfiguration({ oidc, store, jwks, accessTokenTtlSeconds, refreshTokenTtlSeconds }));
    watchProviderEvents(provider, logger);
    const clients = new Map<string, SandboxClient>();
    clients.set(SANDBOX_DEFAULT_CLIENT.client_id, {
      ...SANDBOX_DEFAULT_CLIENT,
      redirect_uris: [...(options.redirectUris ?? DEFAULT_REDIRECT_URIS)],
    });
    for (const client of options.clients ?? []) clients.set(client.client_id, client);
    for (const client of clients.values()) registerClient(provider, store, client);
  } catch (error) {
    state?.close();
    await closeServer(server);
    throw error;
  }
  const addClient = (client: SandboxClient): void => registerClient(provider, store, client);

  let faults: SandboxFaults = { ...DEFAULT_FAULTS };
  const stats = new TokenRequestStats();
  const lifetime = new AbortController();

  const controls = {
    faults: (): SandboxFaults => ({ ...faults }),
    setFaults: (partial: Partial<SandboxFaults>): void => {
      faults = { ...faults, ...parseFaults(partial) };
    },
    resetFaults: (): void => {
      faults = { ...DEFAULT_FAULTS };
    },
    revokeGrants: async (accountId?: string): Promise<number> => {
      const revoked = store.revokeGrants(accountId);
      logger.info('sandbox grants revoked', { account_id: accountId ?? '(all)', revoked });
      return revoked;
    },
    expireAccessTokens: async (accountId?: string): Promise<number> => {
      const dropped = store.dropAccessTokens(accountId);
      logger.info('sandbox access tokens expired', { account_id: accountId ?? '(all)', dropped });
      return dropped;
    },
    mintGrants: async (options: MintGrantsOptions): Promise<MintedGrant[]> => {
      const minted = await mintGrants(provider, options);
      logger.info('sandbox grants minted', { count: minted.length });
      return minted;
    },
    stats: (): SandboxStats => stats.snapshot(),
    resetStats: (): void => stats.reset(),
  };

  provider.use(tokenResponseFaults(() => faults));
  const providerCallback = provider.callback();
  // `faults` is handed out live (not copied) so that `next…Count` switches count down.
  const tokenEndpoint = createTokenEndpoint({ faults: () => faults, stats, random, signal: lifetime.signal, provider: providerCallback });
  const interactions = createInteractionRoutes(provider);
  const demoApi = createDemoApi(provider, { faults: () => faults });
  const admin = createAdminRoutes(controls);

  handler = async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/token' && req.method === 'POST') return tokenEndpoint(req, res);
    if (path.startsWith('/api/')) return demoApi(req, res);
    if (path.startsWith('/_sandbox/')) return admin(req, res, path);
    if (path.startsWith('/interaction/')) return interactions(req, res, path);
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendHtml(res, 200, renderLandingPage({ issuer, clientId: SANDBOX_DEFAULT_CLIENT.client_id, clientSecret: SANDBOX_DEFAULT_CLIENT.client_secret }));
      return;
    }
    return providerCallback(req, res);
  };

  logger.info('sandbox started', { issuer });

  let closing: Promise<void> | undefined;
  return {
    issuer,
    url: issuer,
    port: actualPort,
    stateFile: options.stateFile ?? null,
    ...controls,
    addClient,
    close: () => {
      closing ??= (async () => {
        lifetime.abort();
        await closeServer(server);
        state?.close();
        logger.info('sandbox stopped', { issuer });
      })();
      return closing;
    },
  };
}

/**
 * Clients are stored (dynamic) clients rather than static configuration, so one can be
 * replaced at run time, e.g. to point the dev client at a test's callback URL.
 */
function registerClient(provider: Provider, store: SandboxStore, client: SandboxClient): void {
  const metadata = toClientMetadata(client);
  try {
    // Validates the metadata the way oidc-provider will when the client is used.
    new provider.Client(metadata);
  } catch (error) {
    const detail = (error as { error_description?: string }).error_description ?? (error as Error).message;
    throw new TokenkeeperError('invalid_request', `Invalid sandbox client "${client.client_id}": ${detail}`, { cause: error });
  }
  store.set('Client', metadata.client_id, metadata, undefined);
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TokenkeeperError('invalid_request', `Sandbox option ${name} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

/** The issuer names a loopback address even when listening on every interface. */
function issuerHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Stops listening and drops every connection, idle keep-alive ones included. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
