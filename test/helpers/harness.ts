import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { KeyRing } from '../../src/crypto/index.ts';
import { buildHttpApp, createApiKey, type HttpApp } from '../../src/http/index.ts';
import { createMemoryLogger } from '../../src/logger.ts';
import { SANDBOX_DEFAULT_CLIENT, startSandbox, type SandboxOptions, type SandboxServer } from '../../src/sandbox/index.ts';
import { ensureSandboxIntegration } from '../../src/server.ts';
import { createTokenkeeper, type Tokenkeeper, type TokenkeeperOptions } from '../../src/service.ts';
import { completeSandboxLogin } from './sandbox-login.ts';
import { freshPostgresSchema, type TestDialect } from './test-database.ts';

export const PUBLIC_URL = 'http://127.0.0.1:3170';
export const CRON_SECRET = 'cron-secret-for-tests-0123456789';

export interface Harness {
  tk: Tokenkeeper;
  http: HttpApp;
  sandbox: SandboxServer;
  clock: ManualClock;
  config: Readonly<Config>;
  logger: ReturnType<typeof createMemoryLogger>;
  dataDir: string;
  apiKey: string;
  encryptionKeys: string;
  /** The PostgreSQL URL (a fresh schema) when the dialect is postgres, for other processes to share; else null. */
  databaseUrl: string | null;
  api(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  /** Runs the whole connect flow for an owner through the sandbox; returns the connection id. */
  connect(ownerId: string, username?: string): Promise<string>;
  /** Starts a connect session and walks the sandbox pages; returns the callback path to hit. */
  authorize(ownerId: string, options?: { username?: string; deny?: boolean; redirectTo?: string }): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  sandbox?: SandboxOptions;
  env?: Record<string, string>;
  tokenTuning?: TokenkeeperOptions['tokenTuning'];
  fetch?: typeof fetch;
  /** Storage: SQLite in the data dir (default), or a fresh schema of TEST_DATABASE_URL. */
  dialect?: TestDialect;
  /** Alert delivery channels (default: the log). */
  alertChannels?: TokenkeeperOptions['alertChannels'];
}

/** A real Tokenkeeper (SQLite in a temp dir) beside a real sandbox provider, with a manual clock. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-test-'));
  const postgres = options.dialect === 'postgres' ? await freshPostgresSchema() : null;
  const encryptionKeys = KeyRing.generateKeySpec('k1');
  const sandbox = await startSandbox({
    accessTokenTtlSeconds: 120,
    ...options.sandbox,
    clients: [{ ...SANDBOX_DEFAULT_CLIENT, redirect_uris: [`${PUBLIC_URL}/oauth/callback`] }],
  });
  const config = loadConfig({
    env: {
      TOKENKEEPER_DATA_DIR: dataDir,
      TOKENKEEPER_ENCRYPTION_KEYS: encryptionKeys,
      TOKENKEEPER_PUBLIC_URL: PUBLIC_URL,
      TOKENKEEPER_SANDBOX: 'false',
      TOKENKEEPER_CRON_SECRET: CRON_SECRET,
      TOKENKEEPER_SWEEP_INTERVAL: '0',
      TOKENKEEPER_LOG_LEVEL: 'debug',
      TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS: 'http://app.test',
      ...(postgres ? { DATABASE_URL: postgres.url, TOKENKEEPER_DB_STATEMENT_TIMEOUT_MS: '2000' } : {}),
      ...options.env,
    },
    dotenvPath: false,
  });
  const clock = new ManualClock();
  const logger = createMemoryLogger();
  const tk = await createTokenkeeper({
    config,
    clock,
    logger,
    fetch: options.fetch,
    alertChannels: options.alertChannels,
    sweepJitterMs: 0,
    tokenTuning: {
      requestRetry: { attempts: 2, baseMs: 10, maxMs: 50 },
      cooldown: { baseMs: 30_000, maxMs: 600_000 },
      ...options.tokenTuning,
    },
  });
  await ensureSandboxIntegration(tk, sandbox);
  const http = await buildHttpApp(tk);
  const { key: apiKey } = await createApiKey(tk.database.db, clock, 'test');

  const api: Harness['api'] = async (method, url, body, headers = {}) => {
    const response = await http.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    let parsed: unknown = response.body;
    try {
      parsed = response.body ? JSON.parse(response.body) : null;
    } catch {
      // not JSON (an HTML page): keep the text
    }
    return { status: response.statusCode, body: parsed, headers: response.headers };
  };

  const authorize: Harness['authorize'] = async (ownerId, authorizeOptions = {}) => {
    const session = await api('POST', '/v1/connect/sessions', {
      integration: 'sandbox',
      owner_id: ownerId,
      ...(authorizeOptions.redirectTo ? { redirect_to: authorizeOptions.redirectTo } : {}),
    });
    if (session.status !== 201) throw new Error(`connect session failed: ${JSON.stringify(session.body)}`);
    const link = new URL(session.body.connect_url);
    const opened = await http.app.inject({ method: 'GET', url: link.pathname });
    if (opened.statusCode !== 302) throw new Error(`connect link answered ${opened.statusCode}: ${opened.body}`);
    const callback = await completeSandboxLogin(String(opened.headers.location), {
      username: authorizeOptions.username ?? ownerId,
      deny: authorizeOptions.deny,
    });
    return `${callback.pathname}${callback.search}`;
  };

  const connect: Harness['connect'] = async (ownerId, username) => {
    const path = await authorize(ownerId, { username, redirectTo: 'http://app.test/done' });
    const response = await http.app.inject({ method: 'GET', url: path });
    if (response.statusCode !== 302) throw new Error(`callback answered ${response.statusCode}: ${response.body}`);
    const location = new URL(String(response.headers.location));
    const id = location.searchParams.get('connection_id');
    if (!id) throw new Error(`callback redirect has no connection_id: ${location.href}`);
    return id;
  };

  return {
    tk,
    http,
    sandbox,
    clock,
    config,
    logger,
    dataDir,
    apiKey,
    encryptionKeys,
    databaseUrl: postgres?.url ?? null,
    api,
    connect,
    authorize,
    close: async () => {
      await http.app.close();
      await tk.close();
      await sandbox.close();
      rmSync(dataDir, { recursive: true, force: true });
      await postgres?.drop();
    },
  };
}
