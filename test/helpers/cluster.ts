import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRON_SECRET, PUBLIC_URL } from './harness.ts';
import { freePort, until } from './waiting.ts';

/**
 * Real `tokenkeeper serve` processes sharing one PostgreSQL schema, the cluster shape: each has
 * its own port and data dir, all have the same encryption keys and no sandbox of their own (the
 * `sandbox` integration stored in the database points at the test's sandbox). Stopped with real
 * signals; `stopAllNodes()` in a test file's `after` kills whatever is left.
 */

const BIN = fileURLToPath(new URL('../../bin/tokenkeeper.js', import.meta.url));
const running = new Set<ClusterNode>();

export interface ClusterNode {
  name: string;
  url: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it wrote to stdout and stderr so far (JSON log lines and the banner). */
  output(): string;
  /** Its JSON log lines whose `msg` is `message`. */
  logLines(message: string): Record<string, unknown>[];
  /** SIGTERM (a clean stop: drains its refreshes) and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, as `kill -9`, and waits for the exit. */
  kill(): Promise<void>;
}

export interface NodeOptions {
  name?: string;
  databaseUrl: string;
  encryptionKeys: string;
  /** TOKENKEEPER_SWEEP_INTERVAL in seconds; default 0 (no in-process sweep). */
  sweepIntervalSeconds?: number;
  /** More or overriding variables (e.g. a short TOKENKEEPER_LEASE_MS; the lease and refresh timeout are the defaults otherwise). */
  env?: Record<string, string>;
}

/** Spawns one `tokenkeeper serve`; does not wait for it (see `waitReady`). */
export async function spawnNode(options: NodeOptions): Promise<ClusterNode> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-node-'));
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TOKENKEEPER_') && name !== 'DATABASE_URL'));
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: dataDir,
    env: {
      ...inherited,
      DATABASE_URL: options.databaseUrl,
      TOKENKEEPER_DATA_DIR: dataDir,
      TOKENKEEPER_ENCRYPTION_KEYS: options.encryptionKeys,
      TOKENKEEPER_PUBLIC_URL: PUBLIC_URL,
      TOKENKEEPER_PORT: String(port),
      TOKENKEEPER_HOST: '127.0.0.1',
      TOKENKEEPER_SANDBOX: 'false',
      TOKENKEEPER_CRON_SECRET: CRON_SECRET,
      TOKENKEEPER_SWEEP_INTERVAL: String(options.sweepIntervalSeconds ?? 0),
      TOKENKEEPER_DB_POOL_SIZE: '5',
      TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS: 'http://app.test',
      TOKENKEEPER_LOG_LEVEL: 'info',
      TOKENKEEPER_LOG_FORMAT: 'json',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(node);
      rmSync(dataDir, { recursive: true, force: true });
      resolve({ code, signal });
    });
  });
  const node: ClusterNode = {
    name: options.name ?? `node-${port}`,
    url: `http://127.0.0.1:${port}`,
    child,
    exited,
    output: () => output,
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
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  running.add(node);
  return node;
}

/** Waits until the node answers `GET /ready` with 200; fails at once if it exited. */
export async function waitReady(node: ClusterNode, limitMs = 60_000): Promise<void> {
  await until(
    async () => {
      if (node.child.exitCode !== null || node.child.signalCode !== null) throw new Error(`${node.name} exited before it was ready\n${node.output()}`);
      const response = await fetch(`${node.url}/ready`).catch(() => null);
      await response?.body?.cancel();
      return response?.status === 200;
    },
    `${node.name} to answer /ready\n${node.output()}`,
    limitMs,
  );
}

/** N nodes on one database, started together, each ready. */
export async function startCluster(count: number, options: NodeOptions): Promise<ClusterNode[]> {
  const nodes = await Promise.all(Array.from({ length: count }, (_, index) => spawnNode({ ...options, name: `${options.name ?? 'node'}-${index + 1}` })));
  await Promise.all(nodes.map((node) => waitReady(node)));
  return nodes;
}

/** Kills (SIGKILL) every node still running; for `after`. */
export async function stopAllNodes(): Promise<void> {
  await Promise.all([...running].map((node) => node.kill()));
}
