import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

for (const dialect of testDialects()) {
  test(`closing during a refresh stores its result, then lets the process end (no lingering shutdown timer, ${dialect})`, async () => {
    const script = fileURLToPath(new URL('./fixtures/close-during-refresh.ts', import.meta.url));
    const child = spawn(process.execPath, [script, dialect], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let code: number | null | undefined;
    child.on('close', (exitCode) => (code = exitCode));
    try {
      // The refresh lease is 30 s: a process kept alive by a shutdown timer would still be running.
      await until(() => code !== undefined, `the process to end by itself\n${output}`, 15_000);
      assert.equal(code, 0, output);
      assert.match(output, /^stored$/m);
    } finally {
      child.kill('SIGKILL');
    }
  });
}
