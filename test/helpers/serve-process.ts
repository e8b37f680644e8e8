import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeyRing } from '../../src/crypto/index.ts';
import type { TestDialect } from './test-database.ts';
import { testStorage, type TestStorage } from './test-storage.ts';
import { freePort, until } from './waiting.ts';

/**
 * Real `tokenkeeper serve` processes for tests of process edges (signals, kill -9, restarts, two
 * processes on one database): `node bin/tokenkeeper.js serve`, configured only by the variables
 * the test gives it, its output kept for failure messages, stopped with real signals.
 *
 *   const serve = spawnServe({ env });           // env: TOKENKEEPER_PORT and the rest
 *   await serve.waitForReady();                  // GET /ready answers 200 (or waitForBanner())
 *   ... fetch(`${serve.url}/v1/...`) ...
 *   const { code } = await serve.stop();         // SIGTERM, then the exit
 *   after(cleanUpServes);                        // kill -9 whatever a failed test left running
 *
 * A harness's second instance (same data dir and database) is `spawnServeBeside` in cluster.ts;
 * a serve run as a user runs it (own data dir, own sandbox) starts from `standaloneSetup`.
 * bench/serve-process.ts keeps its own copy on purpose (bounded output, no test helpers).
 */

export const TOKENKEEPER_BIN = fileURLToPath(new URL('../../bin/tokenkeeper.js', import.meta.url));

/** The banner's last line on stdout: printed once the server listens and start-up is done. */
const BANNER_END = 'Press Ctrl+C to stop.';

export interface ServeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServeOptions {
  /**
   * The process's configuration. Of the test process's own environment it inherits everything
   * except `TOKENKEEPER_*`, `DATABASE_URL` and `NODE_ENV` (which would turn on production checks),
   * so these variables are exactly what it gets. `TOKENKEEPER_PORT` is required: a free port
   * (`freePort()`), never the default one another test or a developer's server may hold.
   */
  env: Record<string, string>;
  /** Working directory (where a `.env` file would be read); default `TOKENKEEPER_DATA_DIR`. */
  cwd?: string;
  /** Names the process in failure messages; default `serve:<port>`. */
  name?: string;
}

export interface ServeProcess {
  readonly name: string;
  /** `http://127.0.0.1:<TOKENKEEPER_PORT>`. */
  readonly url: string;
  /** For signals the helpers do not send themselves (SIGSTOP, SIGCONT). */
  readonly child: ChildProcess;
  /** Settles once the process has exited and its output is all read; never rejects. */
  readonly exited: Promise<ServeExit>;
  /** stdout and stderr as they arrived, interleaved (the banner and log lines). */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Its JSON log lines (TOKENKEEPER_LOG_FORMAT=json) whose `msg` is `message`. */
  logLines(message: string): Record<string, unknown>[];
  /** Not yet exited (a SIGSTOPped process is running). */
  isRunning(): boolean;
  /** Resolves once stdout has the whole start-up banner; rejects, with the output, if it exits first. */
  waitForBanner(limitMs?: number): Promise<void>;
  /**
   * Polls `GET path` (default `/ready`) until it answers 200 and returns at once, as a supervisor's
   * readiness probe would; fails at once, with the output, if the process exits meanwhile. The
   * limit (default 60 s) is a bound for a loaded machine, not a speed check.
   */
  waitForReady(options?: { path?: string; limitMs?: number }): Promise<void>;
  /** Sends `signal` (default SIGTERM, a clean stop that drains refreshes) if still running, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ServeExit>;
  /** SIGKILL, as `kill -9`, and waits for the exit. */
  kill(): Promise<ServeExit>;
}

const live = new Set<ServeProcess>();
// A last safety net if the test process ends without its `after` hooks: no child outlives it.
process.on('exit', () => {
  for (const serve of live) serve.child.kill('SIGKILL');
});

/** Spawns one `tokenkeeper serve`; does not wait for it (see `waitForReady`, `waitForBanner`). */
export function spawnServe(options: ServeOptions): ServeProcess {
  const port = options.env.TOKENKEEPER_PORT;
  if (!port) throw new Error('spawnServe: set TOKENKEEPER_PORT (a free port) in env');
  const name = options.name ?? `serve:${port}`;
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([variable]) => !variable.startsWith('TOKENKEEPER_') && variable !== 'DATABASE_URL' && variable !== 'NODE_ENV'),
  );
  const child = spawn(process.execPath, [TOKENKEEPER_BIN, 'serve'], {
    cwd: options.cwd ?? options.env.TOKENKEEPER_DATA_DIR,
    env: { ...inherited, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  const exited = new Promise<ServeExit>((resolve) => {
    child.on('close', (code, signal) => {
      live.delete(serve);
      resolve({ code, signal });
    });
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const exitedEarly = (what: string) => new Error(`${name} exited (code ${child.exitCode}, signal ${child.signalCode}) before ${what}\n${output}`);

  const banner = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', () => {
      if (stdout.includes(BANNER_END)) resolve();
    });
    void exited.then(() => reject(exitedEarly('it printed its banner')));
  });
  banner.catch(() => undefined);

  const serve: ServeProcess = {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    exited,
    output: () => output,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: (message) =>
      output.split('\n').flatMap((line) => {
        if (!line.startsWith('{')) return [];
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          return parsed.msg === message ? [parsed] : [];
        } catch {
          return [];
        }
      }),
    isRunning,
    waitForBanner: (limitMs = 60_000) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${name} to print its banner\n${output}`)), limitMs);
      });
      return Promise.race([banner, timeout]).finally(() => clearTimeout(timer));
    },
    waitForReady: async ({ path = '/ready', limitMs = 60_000 } = {}) => {
      let exitedFirst = false;
      await until(
        async () => {
          if (!isRunning()) {
            exitedFirst = true;
            throw exitedEarly(`it answered ${path}`);
          }
          const response = await fetch(`${serve.url}${path}`).catch(() => null);
          await response?.body?.cancel();
          return response?.status === 200;
        },
        `${name} to answer ${path} with 200`,
        limitMs,
      ).catch((error: Error) => {
        throw exitedFirst ? error : new Error(`${error.message}\n${output}`);
      });
    },
    stop: async (signal = 'SIGTERM') => {
      if (isRunning()) child.kill(signal);
      return exited;
    },
    kill: () => serve.stop('SIGKILL'),
  };
  live.add(serve);
  return serve;
}

/** A serve run as a user runs it: its own data dir (SQLite there, or a fresh PostgreSQL schema), its sandbox beside it. */
export interface StandaloneSetup {
  dataDir: string;
  port: number;
  sandboxPort: number;
  storage: TestStorage;
  /** For `spawnServe`: the storage, data dir, both ports, fresh keys, no sweep, warnings only. */
  env: Record<string, string>;
}

const setups: StandaloneSetup[] = [];

/** A fresh data dir, storage and ports for `spawnServe({ env: setup.env })`; `cleanUpServes` removes and drops them. */
export async function standaloneSetup(dialect: TestDialect): Promise<StandaloneSetup> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-serve-'));
  const storage = await testStorage(dialect);
  const port = await freePort();
  const sandboxPort = await freePort();
  const setup: StandaloneSetup = {
    dataDir,
    port,
    sandboxPort,
    storage,
    env: {
      ...storage.env,
      TOKENKEEPER_DATA_DIR: dataDir,
      TOKENKEEPER_PORT: String(port),
      TOKENKEEPER_SANDBOX_PORT: String(sandboxPort),
      TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
      TOKENKEEPER_SWEEP_INTERVAL: '0',
      TOKENKEEPER_LOG_LEVEL: 'warn',
    },
  };
  setups.push(setup);
  return setup;
}

/**
 * For `after`: SIGKILLs every serve still running (a failed test's leftovers) and waits for them,
 * then removes the data dirs and drops the storage of every `standaloneSetup`.
 */
export async function cleanUpServes(): Promise<void> {
  await Promise.all([...live].map((serve) => serve.kill()));
  for (const setup of setups.splice(0)) {
    rmSync(setup.dataDir, { recursive: true, force: true });
    await setup.storage.drop();
  }
}
