import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort } from './free-port.ts';

const BIN = fileURLToPath(new URL('../bin/tokenkeeper.js', import.meta.url));
/** Output kept per process for a failure report; a benchmark run must not grow without bound. */
const OUTPUT_LIMIT = 64 * 1024;

export interface ServeProcess {
  name: string;
  url: string;
  child: ChildProcess;
  /** `performance.now()` just before the spawn. */
  spawnedAt: number;
  exited: Promise<void>;
  /** The last 64 KiB it wrote to stdout and stderr (its banner and log lines). */
  output(): string;
  /** SIGTERM (a clean stop, which drains its refreshes) and waits for the exit; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServeOptions {
  name: string;
  databaseUrl: string;
  encryptionKeys: string;
  /** TOKENKEEPER_SWEEP_INTERVAL in seconds; 0 (the default here) runs no in-process sweep. */
  sweepIntervalSeconds?: number;
  /** More or overriding variables (e.g. `TOKENKEEPER_LOG_LEVEL` to look into a run). */
  env?: Record<string, string>;
}

const live = new Set<ServeProcess>();

/**
 * One real `tokenkeeper serve` (bin/tokenkeeper.js) on the benchmark's PostgreSQL schema, the
 * cluster shape: its own port and data dir, the shared encryption keys, no sandbox of its own
 * (the stored `sandbox` integration points at the benchmark's). A pool of 5 connections, as in
 * the cluster tests: several instances and other users share the server's connection limit.
 * Its output goes to a buffer, never to the benchmark's stdout (which `--json` keeps for JSON).
 */
export async function spawnServe(options: ServeOptions): Promise<ServeProcess> {
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-bench-node-'));
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TOKENKEEPER_') && name !== 'DATABASE_URL'));
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: dataDir,
    env: {
      ...inherited,
      DATABASE_URL: options.databaseUrl,
      TOKENKEEPER_DATA_DIR: dataDir,
      TOKENKEEPER_ENCRYPTION_KEYS: options.encryptionKeys,
      TOKENKEEPER_PUBLIC_URL: url,
      TOKENKEEPER_PORT: String(port),
      TOKENKEEPER_HOST: '127.0.0.1',
      TOKENKEEPER_SANDBOX: 'false',
      TOKENKEEPER_SWEEP_INTERVAL: String(options.sweepIntervalSeconds ?? 0),
      TOKENKEEPER_DB_POOL_SIZE: '5',
      TOKENKEEPER_LOG_LEVEL: 'warn',
      TOKENKEEPER_LOG_FORMAT: 'json',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.on('close', () => {
      live.delete(node);
      rmSync(dataDir, { recursive: true, force: true });
      resolve();
    });
  });
  const node: ServeProcess = {
    name: options.name,
    url,
    child,
    spawnedAt,
    exited,
    output: () => output,
    stop: async (graceMs = 20_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(node);
  return node;
}

/**
 * Polls `GET /ready` every 5 ms until it answers 200; resolves with the milliseconds since the
 * spawn. Fails if the process exits first or is not ready within `limitMs`.
 */
export async function waitReady(node: ServeProcess, limitMs = 60_000): Promise<number> {
  for (;;) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) {
      throw new Error(`${node.name} exited before it was ready:\n${node.output().slice(-2_000)}`);
    }
    const response = await fetch(`${node.url}/ready`).catch(() => null);
    await response?.body?.cancel();
    const elapsed = performance.now() - node.spawnedAt;
    if (response?.status === 200) return elapsed;
    if (elapsed > limitMs) throw new Error(`${node.name} was not ready after ${limitMs} ms:\n${node.output().slice(-2_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Stops every process still running (the benchmark's `finally`). */
export async function stopAllServe(): Promise<void> {
  await Promise.all([...live].map((node) => node.stop(5_000)));
}

// The benchmark crashed or was interrupted: take no server processes with it into the background.
process.on('exit', () => {
  for (const node of live) node.child.kill('SIGKILL');
});
