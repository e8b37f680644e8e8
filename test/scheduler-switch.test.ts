import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { KeyRing } from '../src/crypto/index.ts';
import { createMemoryLogger } from '../src/logger.ts';
import { startServer } from '../src/server.ts';
import { testDialects, type TestDialect } from './helpers/test-database.ts';
import { testStorage, type TestStorage } from './helpers/test-storage.ts';

const tempDirs: string[] = [];
const storages: TestStorage[] = [];
after(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  for (const storage of storages) await storage.drop();
});

function configWith(env: Record<string, string>, storageEnv: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-scheduler-'));
  tempDirs.push(dataDir);
  return loadConfig({
    env: {
      TOKENKEEPER_DATA_DIR: dataDir,
      TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
      TOKENKEEPER_SANDBOX: 'false',
      TOKENKEEPER_LOG_LEVEL: 'debug',
      ...storageEnv,
      ...env,
    },
    dotenvPath: false,
  });
}

describe('TOKENKEEPER_SCHEDULER', () => {
  test('is on by default, off when set to off, and a wrong value stops start-up naming the variable', () => {
    assert.equal(configWith({}).scheduler, 'on');
    assert.equal(configWith({ TOKENKEEPER_SCHEDULER: 'on' }).scheduler, 'on');
    assert.equal(configWith({ TOKENKEEPER_SCHEDULER: 'OFF' }).scheduler, 'off');
    assert.throws(
      () => configWith({ TOKENKEEPER_SCHEDULER: 'disabled' }),
      (error: unknown) => error instanceof ConfigError && /TOKENKEEPER_SCHEDULER/.test(error.message) && /on, off/.test(error.message),
    );
  });

  /**
   * startServer schedules the first sweep immediately (setImmediate) when the scheduler is on;
   * closing the server waits for ticks already running. So after one turn of the event loop and
   * a close, the first tick has either run to its end or was never started: no timing involved.
   */
  async function jobsRunAtStartWith(scheduler: 'on' | 'off', dialect: TestDialect): Promise<string[]> {
    const logger = createMemoryLogger();
    const storage = await testStorage(dialect);
    storages.push(storage);
    const running = await startServer(configWith({ TOKENKEEPER_SCHEDULER: scheduler, TOKENKEEPER_SWEEP_INTERVAL: '5' }, storage.env), { logger, port: 0 });
    try {
      await new Promise((resolve) => setImmediate(resolve));
      const api = await running.http.app.inject({ method: 'GET', url: '/health' });
      assert.equal(api.statusCode, 200, 'the API is served either way');
    } finally {
      await running.close();
    }
    return logger.lines.filter((line) => line.includes('job finished')).map((line) => JSON.parse(line).job ?? line);
  }

  for (const dialect of testDialects()) {
    test(`on: the first sweep runs at start-up (the check below can see a tick; ${dialect})`, async () => {
      assert.notEqual((await jobsRunAtStartWith('on', dialect)).length, 0);
    });

    test(`off: the instance serves the API and runs no job by itself (${dialect})`, async () => {
      assert.deepEqual(await jobsRunAtStartWith('off', dialect), []);
    });
  }
});
