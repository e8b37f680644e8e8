import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.ts';
import { KeyRing } from '../src/crypto/index.ts';
import { createApiKey } from '../src/http/index.ts';
import type { SandboxServer } from '../src/sandbox/index.ts';
import { ensureSandboxIntegration, SANDBOX_INTEGRATION_KEY, startServer, type RunningServer } from '../src/server.ts';
import { completeSandboxLogin } from '../test/helpers/sandbox-login.ts';
import { fetchToken } from './expired-burst.ts';
import { findFreePort } from './free-port.ts';

/** The bare baseline route: same Fastify instance, no auth, a fixed JSON body. */
export const BARE_PATH = '/bench/bare';

/**
 * Access-token lifetime the sandbox grants during the benchmark. One hour (Google's) rather
 * than the sandbox's 120 s, so the token stays valid through the whole throughput run and the
 * "valid token" measurement never includes a refresh.
 */
export const TOKEN_TTL_SECONDS = 3600;

export interface BenchServiceOptions {
  /** PostgreSQL (a `DATABASE_URL`) instead of SQLite in the temp dir. */
  databaseUrl?: string;
  /**
   * A sandbox already running, shared with other services and `tokenkeeper serve` processes;
   * the service then starts none of its own. Default: its own, as `npm start` does.
   */
  sandbox?: SandboxServer;
  /** `TOKENKEEPER_ENCRYPTION_KEYS`; default a fresh key. Share it with processes on the same database. */
  encryptionKeys?: string;
  /** More environment (alert channels, policy timings); it wins over the defaults above. */
  env?: Record<string, string>;
  /** Start the scheduler (ticks: sweep, alert notifications) as `npm start` does; default off. */
  startScheduler?: boolean;
  /** More routes of the benchmark's own on the same Fastify instance, beside the bare route. */
  extend?: (app: FastifyInstance) => void;
}

export interface BenchService {
  running: RunningServer;
  sandbox: SandboxServer;
  /** Where the service listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The `TOKENKEEPER_ENCRYPTION_KEYS` it runs with. */
  encryptionKeys: string;
  /** A real API key (created like `tokenkeeper keys create`). */
  apiKey: string;
  /** Sets the body the bare route answers with from now on. */
  setBareBody(body: Record<string, unknown>): void;
  /**
   * Runs the whole connect flow through the sandbox over HTTP; returns the connection id. For the
   * `sandbox` integration by default, or another integration of the sandbox provider.
   */
  connectAccount(ownerId: string, integrationKey?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The real service, in this process: SQLite in a temp dir (or the given PostgreSQL), the sandbox
 * provider beside it with the ready `sandbox` integration, started by the same `startServer` as
 * `npm start`.
 */
export async function startBenchService(options: BenchServiceOptions = {}): Promise<BenchService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-bench-'));
  const [port, sandboxPort] = await Promise.all([findFreePort(), findFreePort()]);
  const url = `http://127.0.0.1:${port}`;
  const encryptionKeys = options.encryptionKeys ?? KeyRing.generateKeySpec('k1');
  const config = loadConfig({
    env: {
      TOKENKEEPER_DATA_DIR: dataDir,
      TOKENKEEPER_ENCRYPTION_KEYS: encryptionKeys,
      TOKENKEEPER_SANDBOX: options.sandbox ? 'false' : 'true',
      TOKENKEEPER_PORT: String(port),
      TOKENKEEPER_SANDBOX_PORT: String(sandboxPort),
      TOKENKEEPER_PUBLIC_URL: url,
      TOKENKEEPER_SANDBOX_TOKEN_TTL: String(TOKEN_TTL_SECONDS),
      TOKENKEEPER_SWEEP_INTERVAL: '0',
      TOKENKEEPER_LOG_LEVEL: 'warn',
      ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
      ...options.env,
    },
    dotenvPath: false,
  });
  let bareBody: Record<string, unknown> = { ok: true };
  let running: RunningServer;
  try {
    running = await startServer(config, {
      startScheduler: options.startScheduler ?? false,
      http: {
        extend: (app) => {
          app.get(BARE_PATH, async (_request, reply) => reply.send(bareBody));
          options.extend?.(app);
        },
      },
    });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const sandbox = options.sandbox ?? running.sandbox;
  if (!sandbox) throw new Error('the sandbox did not start although TOKENKEEPER_SANDBOX=true');
  if (options.sandbox) await ensureSandboxIntegration(running.tk, options.sandbox);
  const { key: apiKey } = await createApiKey(running.tk.database.db, running.tk.clock, 'bench');

  const connectAccount = async (ownerId: string, integrationKey = SANDBOX_INTEGRATION_KEY): Promise<string> => {
    const session = await fetch(`${url}/v1/connect/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ integration: integrationKey, owner_id: ownerId, redirect_to: 'http://127.0.0.1/bench-done' }),
    });
    const created = (await session.json()) as { connect_url?: string };
    if (session.status !== 201 || !created.connect_url) throw new Error(`connect session: ${session.status} ${JSON.stringify(created)}`);
    // Opening the connect link redirects to the sandbox; log in and consent like a person would.
    const callback = await completeSandboxLogin(created.connect_url, { username: ownerId });
    const finished = await fetch(callback, { redirect: 'manual' });
    await finished.body?.cancel();
    const location = finished.headers.get('location');
    const connectionId = location ? new URL(location).searchParams.get('connection_id') : null;
    if (finished.status !== 302 || !connectionId) throw new Error(`callback: ${finished.status}, location ${location ?? '(none)'}`);
    return connectionId;
  };

  return {
    running,
    sandbox,
    url,
    encryptionKeys,
    apiKey,
    setBareBody: (body) => {
      bareBody = body;
    },
    connectAccount,
    close: async () => {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Makes the bare route answer a body of exactly the token response's size and shape (the access
 * token's characters replaced), so the two routes differ only in what the server does. Returns
 * the body's size in bytes.
 */
export async function matchBareBody(service: BenchService, tokenUrl: string, headers: Record<string, string>): Promise<number> {
  const sample = await fetchToken(tokenUrl, headers);
  const bodyBytes = Buffer.byteLength(sample.text);
  service.setBareBody({ ...(JSON.parse(sample.text) as Record<string, unknown>), access_token: 'x'.repeat(sample.access_token.length) });
  const bareBytes = Buffer.byteLength(await (await fetch(`${service.url}${BARE_PATH}`)).text());
  if (bareBytes !== bodyBytes) throw new Error(`bare body is ${bareBytes} bytes, token body ${bodyBytes}`);
  return bodyBytes;
}
