import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { KeyRing } from '../src/crypto/index.ts';
import { testDialects } from './helpers/test-database.ts';
import { testStorage, type TestStorage } from './helpers/test-storage.ts';
import { freePort, until } from './helpers/waiting.ts';

// `tokenkeeper serve` as a supervisor drives it: `/ready` answers as soon as the port is bound,
// while start-up work still runs (the sandbox integration, its system connection minted at the
// sandbox, the development API key, the scheduler). A SIGTERM sent on the first 200 must stop
// the process cleanly, not kill it with a refresh lease held.

const BIN = fileURLToPath(new URL('../bin/tokenkeeper.js', import.meta.url));
const tempDirs: string[] = [];
const children = new Set<ChildProcess>();
const storages: TestStorage[] = [];

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  for (const storage of storages) await storage.drop();
});

for (const dialect of testDialects()) {
  describe(`tokenkeeper serve stopped right after /ready (${dialect})`, () => {
    test('SIGTERM on the first 200 from /ready: the server stops cleanly (exit 0), even with start-up work still running', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-early-stop-'));
      tempDirs.push(dataDir);
      const storage = await testStorage(dialect);
      storages.push(storage);
      const port = await freePort();
      const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TOKENKEEPER_') && name !== 'NODE_ENV' && name !== 'DATABASE_URL'));
      const child = spawn(process.execPath, [BIN, 'serve'], {
        cwd: dataDir,
        env: {
          ...inherited,
          ...storage.env,
          TOKENKEEPER_DATA_DIR: dataDir,
          TOKENKEEPER_PORT: String(port),
          TOKENKEEPER_SANDBOX_PORT: String(await freePort()),
          TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
          TOKENKEEPER_SWEEP_INTERVAL: '0',
          TOKENKEEPER_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.on('close', (code, signal) => {
          children.delete(child);
          resolve({ code, signal });
        });
      });

      // A readiness probe that signals the moment it sees 200, as a test harness or a supervisor would.
      await until(async () => {
        if (child.exitCode !== null) throw new Error(`serve exited before it was ready:\n${output}`);
        const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null);
        await response?.body?.cancel();
        return response?.status === 200;
      }, '/ready to answer 200', 60_000);
      child.kill('SIGTERM');

      const { code, signal } = await exited;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, output);
      assert.match(output, /Tokenkeeper stopped\./);
    });
  });
}
