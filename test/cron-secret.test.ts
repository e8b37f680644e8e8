import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { startHarness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function problemsOf(cronSecret: string): ConfigError {
  const cwd = mkdtempSync(join(tmpdir(), 'tokenkeeper-cron-secret-'));
  tempDirs.push(cwd);
  try {
    loadConfig({ env: { TOKENKEEPER_CRON_SECRET: cronSecret }, cwd, dotenvPath: false });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(cronSecret)} to be refused`);
}

test('a cron secret that cannot travel in a Bearer header stops start-up, naming the variable and never the secret', () => {
  for (const secret of [
    'cron secret with spaces 0123',
    'cron-secret-0123456789\tand-a-tab',
    'cron-secret-0123456789,comma',
    'cron-secret-0123456789"quote"x',
    'cron-secret-0123456789é-accent',
    // `=` is padding: only allowed at the end (RFC 6750 §2.1 b64token).
    'cron=secret=0123456789abcdef',
  ]) {
    const error = problemsOf(secret);
    assert.equal(error.problems.length, 1, `${JSON.stringify(secret)}: ${error.message}`);
    assert.equal(error.problems[0]!.variable, 'TOKENKEEPER_CRON_SECRET');
    assert.match(error.problems[0]!.message, /cannot be sent as a Bearer token/);
    assert.ok(!error.message.includes(secret), 'the message must not echo the secret');
  }
});

for (const dialect of testDialects()) {
  test(`every b64token character is accepted, and such a secret really opens the cron routes (${dialect})`, async () => {
    const secret = 'Az09-._~+/cron-secret==';
    const cwd = mkdtempSync(join(tmpdir(), 'tokenkeeper-cron-secret-'));
    tempDirs.push(cwd);
    assert.equal(loadConfig({ env: { TOKENKEEPER_CRON_SECRET: secret }, cwd, dotenvPath: false }).cronSecret, secret);

    const h = await startHarness({ dialect, env: { TOKENKEEPER_CRON_SECRET: secret } });
    try {
      const ok = await h.api('POST', '/v1/cron/cleanup', undefined, { authorization: `Bearer ${secret}` });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    } finally {
      await h.close();
    }
  });
}
