import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CRON_SECRET, PUBLIC_URL, type Harness } from './harness.ts';
import { cleanUpServes, spawnServe, type ServeProcess } from './serve-process.ts';
import { freePort } from './waiting.ts';

/**
 * More instances of one Tokenkeeper as real `tokenkeeper serve` processes (serve-process.ts),
 * all with the same encryption keys and no sandbox of their own (the `sandbox` integration stored
 * in the database points at the test's sandbox):
 * - `spawnNode` / `startCluster`: the cluster shape, nodes sharing one PostgreSQL schema, each
 *   with its own port and data dir;
 * - `spawnServeBeside`: a harness's second instance, on its very data dir and storage (the same
 *   SQLite file, or the same PostgreSQL schema).
 * Stopped with real signals; `stopAllNodes()` (or `cleanUpServes()`) in `after` kills what is left.
 */

/** A cluster node: a serve process whose data dir goes with it when it exits. */
export type ClusterNode = ServeProcess;

export interface NodeOptions {
  name?: string;
  databaseUrl: string;
  encryptionKeys: string;
  /** TOKENKEEPER_SWEEP_INTERVAL in seconds; default 0 (no in-process sweep). */
  sweepIntervalSeconds?: number;
  /** More or overriding variables (e.g. a short TOKENKEEPER_LEASE_MS; the lease and refresh timeout are the defaults otherwise). */
  env?: Record<string, string>;
}

/** What every further instance of the test's Tokenkeeper shares: its keys, public URL and cron secret, and no sandbox of its own. */
function instanceEnv(dataDir: string, port: number, encryptionKeys: string): Record<string, string> {
  return {
    TOKENKEEPER_DATA_DIR: dataDir,
    TOKENKEEPER_ENCRYPTION_KEYS: encryptionKeys,
    TOKENKEEPER_PUBLIC_URL: PUBLIC_URL,
    TOKENKEEPER_PORT: String(port),
    TOKENKEEPER_SANDBOX: 'false',
    TOKENKEEPER_CRON_SECRET: CRON_SECRET,
    TOKENKEEPER_SWEEP_INTERVAL: '0',
    TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS: 'http://app.test',
  };
}

/** Spawns one cluster node, JSON logs at info; does not wait for it (see `waitReady`). */
export async function spawnNode(options: NodeOptions): Promise<ClusterNode> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-node-'));
  const node = spawnServe({
    name: options.name ?? `node-${port}`,
    env: {
      ...instanceEnv(dataDir, port, options.encryptionKeys),
      DATABASE_URL: options.databaseUrl,
      TOKENKEEPER_HOST: '127.0.0.1',
      TOKENKEEPER_SWEEP_INTERVAL: String(options.sweepIntervalSeconds ?? 0),
      TOKENKEEPER_DB_POOL_SIZE: '5',
      TOKENKEEPER_LOG_LEVEL: 'info',
      TOKENKEEPER_LOG_FORMAT: 'json',
      ...options.env,
    },
  });
  // Registered first, so the dir is gone by the time anyone awaiting the exit goes on.
  void node.exited.then(() => rmSync(dataDir, { recursive: true, force: true }));
  return node;
}

/** Waits until the node answers `GET /ready` with 200; fails at once if it exited. */
export async function waitReady(node: ClusterNode, limitMs = 60_000): Promise<void> {
  await node.waitForReady({ limitMs });
}

/** N nodes on one database, started together, each ready. */
export async function startCluster(count: number, options: NodeOptions): Promise<ClusterNode[]> {
  const nodes = await Promise.all(Array.from({ length: count }, (_, index) => spawnNode({ ...options, name: `${options.name ?? 'node'}-${index + 1}` })));
  await Promise.all(nodes.map((node) => waitReady(node)));
  return nodes;
}

/** Kills (SIGKILL) every node, and every other serve process of this test file, still running; for `after`. */
export async function stopAllNodes(): Promise<void> {
  await cleanUpServes();
}

/**
 * The harness's Tokenkeeper once more, as a `tokenkeeper serve` process: the harness's data dir
 * (so its SQLite file) and, on PostgreSQL, its DATABASE_URL; on a free port, no sweep. `env` adds
 * or overrides variables (a sweep interval, a short lease, a log level). Not waited for: see
 * `waitForReady`.
 */
export async function spawnServeBeside(h: Harness, env: Record<string, string> = {}): Promise<ServeProcess> {
  return spawnServe({
    env: {
      ...instanceEnv(h.dataDir, await freePort(), h.encryptionKeys),
      ...(h.config.databaseUrl ? { DATABASE_URL: h.config.databaseUrl } : {}),
      ...env,
    },
  });
}
