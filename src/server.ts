import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config/index.ts';
import { hashSecret } from './crypto/index.ts';
import type { HttpApp, HttpAppOptions } from './http/index.ts';
import type { SandboxServer } from './sandbox/index.ts';
import { createTokenkeeper, type Tokenkeeper, type TokenkeeperOptions } from './service.ts';
import { findActiveApiKeyByHash } from './store/index.ts';

export interface RunningServer {
  tk: Tokenkeeper;
  http: HttpApp;
  sandbox: SandboxServer | null;
  /** Where the service listens. */
  url: string;
  /** In development: an API key kept in the data dir so the quick start can use it. */
  developmentApiKey: string | null;
  close(): Promise<void>;
}

export interface StartServerOptions extends Omit<TokenkeeperOptions, 'config'> {
  http?: HttpAppOptions;
  /** Listen on this port instead of the configured one (0 = any free port; tests). */
  port?: number;
  sandboxPort?: number;
  startScheduler?: boolean;
  /**
   * Start the scheduler this long after the server listens instead of at once (`tokenkeeper
   * serve`). Its first ticks (the sweep, the alert rules over every connection, on PostgreSQL
   * loading and starting pg-boss) are tens of milliseconds of work on the one thread that also
   * answers the first `/ready`; nothing in them needs to come before it. Default 0: at once.
   */
  schedulerDelayMs?: number;
}

export const SANDBOX_INTEGRATION_KEY = 'sandbox';

/**
 * `tokenkeeper serve`: the service, and in development the sandbox provider beside it with a
 * ready `sandbox` integration, so a newcomer can connect an account with no internet.
 *
 * Both ports are bound before any stored state changes. A second `serve` on the same data dir
 * whose port is taken must fail without touching anything: it used to repoint the shared
 * `sandbox` integration at its own sandbox first, and the running server's refreshes then went
 * to a provider that had already exited.
 */
export async function startServer(config: Readonly<Config>, options: StartServerOptions = {}): Promise<RunningServer> {
  // The HTTP layer (Fastify, the route schemas) loads while the database opens and migrates; the
  // sandbox (oidc-provider) only when it runs.
  const creating = createTokenkeeper({ ...options, config });
  const httpModule = import('./http/index.ts');
  httpModule.catch(() => undefined);
  const tk = await creating;
  let sandbox: SandboxServer | null = null;
  let http: HttpApp | null = null;
  try {
    if (config.sandbox.enabled) {
      const { SANDBOX_DEFAULT_CLIENT, SANDBOX_STATE_FILE, startSandbox } = await import('./sandbox/index.ts');
      sandbox = await startSandbox({
        port: options.sandboxPort ?? config.sandbox.port,
        host: '127.0.0.1',
        accessTokenTtlSeconds: config.sandbox.accessTokenTtlSeconds,
        clients: [{ ...SANDBOX_DEFAULT_CLIENT, redirect_uris: [config.callbackUrl] }],
        logger: tk.logger.child({ component: 'sandbox' }),
        stateFile: join(config.dataDir, SANDBOX_STATE_FILE),
      });
    }
    const { buildHttpApp, createApiKey } = await httpModule;
    http = await buildHttpApp(tk, options.http);
    const address = await http.app.listen({ port: options.port ?? config.port, host: config.host });
    // Only now, with both ports ours, is it safe to change what is stored.
    if (sandbox) await ensureSandboxIntegration(tk, sandbox);
    await ensureSystemConnections(tk);
    // The deployment's configuration decides the environment's webhook endpoint: gone when unset.
    await tk.webhooks.syncEnvironmentEndpoint({ removeWhenUnset: true });
    const developmentApiKey = config.env === 'development' ? await ensureDevelopmentApiKey(tk, createApiKey) : null;
    let schedulerTimer: NodeJS.Timeout | null = null;
    if (options.startScheduler ?? true) {
      const delayMs = options.schedulerDelayMs ?? 0;
      if (delayMs > 0) schedulerTimer = setTimeout(() => tk.startScheduler(), delayMs).unref();
      else tk.startScheduler();
    }
    const url = options.port === undefined ? config.publicUrl : address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
    const running: RunningServer = {
      tk,
      http,
      sandbox,
      url,
      developmentApiKey,
      close: async () => {
        if (schedulerTimer) clearTimeout(schedulerTimer);
        // Stop taking requests, let the refreshes in flight finish and commit, and only then stop
        // the sandbox: in development it is the provider those refreshes are talking to.
        await Promise.all([http!.app.close(), tk.tokens.drain()]);
        await tk.close();
        await sandbox?.close();
      },
    };
    return running;
  } catch (error) {
    await http?.app.close().catch(() => undefined);
    await sandbox?.close().catch(() => undefined);
    await tk.close().catch(() => undefined);
    throw error;
  }
}

/**
 * System connections minted by client credentials are made at start-up, so the first request
 * without a user finds one. A provider that is down does not stop the service: the sweep keeps
 * trying.
 */
async function ensureSystemConnections(tk: Tokenkeeper): Promise<void> {
  for (const integration of await tk.integrations.list()) {
    if (integration.systemGrant !== 'client_credentials' || !integration.enabled) continue;
    try {
      await tk.connections.ensureSystemConnection(integration.key);
    } catch (error) {
      tk.logger.warn('could not mint the system connection at start-up; the sweep will retry', { integration: integration.key, error });
    }
  }
}

/** Creates or repoints the `sandbox` integration at the running sandbox (its port may change). */
export async function ensureSandboxIntegration(tk: Tokenkeeper, sandbox: SandboxServer): Promise<void> {
  const existing = await tk.integrations.findByKey(SANDBOX_INTEGRATION_KEY);
  const settings = { issuer: sandbox.issuer };
  if (!existing) {
    const { SANDBOX_DEFAULT_CLIENT } = await import('./sandbox/index.ts');
    await tk.integrations.create({
      key: SANDBOX_INTEGRATION_KEY,
      provider: 'sandbox',
      display_name: 'Sandbox (local test provider)',
      client_id: SANDBOX_DEFAULT_CLIENT.client_id,
      client_secret: SANDBOX_DEFAULT_CLIENT.client_secret,
      scopes: ['openid', 'profile', 'email', 'offline_access', 'api'],
      settings,
      system_grant: 'client_credentials',
      system_scopes: ['api'],
    });
  } else if (existing.provider === 'sandbox' && existing.settings.issuer !== sandbox.issuer) {
    await tk.integrations.update(SANDBOX_INTEGRATION_KEY, { settings });
  }
}

/**
 * Development convenience: an API key stored in `<data dir>/dev-api-key` (mode 0600) and
 * printed at start, so the quick start's curl works. Never in production.
 */
async function ensureDevelopmentApiKey(tk: Tokenkeeper, createApiKey: typeof import('./http/index.ts').createApiKey): Promise<string> {
  const path = join(tk.config.dataDir, 'dev-api-key');
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (await findActiveApiKeyByHash(tk.database.db, hashSecret(key))) return key;
  }
  const { key } = await createApiKey(tk.database.db, tk.clock, 'development');
  mkdirSync(tk.config.dataDir, { recursive: true });
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return key;
}

