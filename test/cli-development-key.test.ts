import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { freePort } from './helpers/waiting.ts';

// The warning about the generated development encryption key, as a user sees it: the real
// executable in child processes, on a data dir without TOKENKEEPER_ENCRYPTION_KEYS. `serve`
// says it once at every start; management commands say nothing, except one line from the
// command that created the key file.

const BIN = fileURLToPath(new URL('../bin/tokenkeeper.js', import.meta.url));
const WARNING = /!!! Tokens are encrypted with a (?:newly )?generated DEVELOPMENT key/;
const tempDirs: string[] = [];
const children = new Set<ChildProcess>();

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function developmentEnv(): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-devkey-'));
  tempDirs.push(dir);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => !entry[0].startsWith('TOKENKEEPER_') && entry[0] !== 'NODE_ENV' && entry[0] !== 'DATABASE_URL' && entry[1] !== undefined),
  );
  return { ...inherited, TOKENKEEPER_DATA_DIR: dir, TOKENKEEPER_PORT: String(await freePort()), TOKENKEEPER_SANDBOX: 'false', TOKENKEEPER_SWEEP_INTERVAL: '0' };
}

function cli(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { cwd: env.TOKENKEEPER_DATA_DIR, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `serve` until its banner is out, then SIGTERM; everything it wrote. */
async function serveOnce(env: Record<string, string>): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd: env.TOKENKEEPER_DATA_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Press Ctrl+C to stop.')) resolve();
    });
    void closed.then(() => reject(new Error(`serve exited before its banner:\n${stdout}\n${stderr}`)));
  });
  child.kill('SIGTERM');
  const code = await closed;
  children.delete(child);
  return { stdout, stderr, code };
}

test('management commands do not repeat the development-key warning; the one that creates the key says so in one line', async () => {
  const env = await developmentEnv();
  const first = await cli(['keys', 'list'], env);
  assert.equal(first.code, 0, first.stderr);
  assert.ok(existsSync(join(env.TOKENKEEPER_DATA_DIR!, 'encryption.key')), 'the command created the key file');
  assert.doesNotMatch(first.stderr, WARNING);
  const lines = first.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, first.stderr);
  assert.match(lines[0]!, /Generated a DEVELOPMENT encryption key in .*encryption\.key because TOKENKEEPER_ENCRYPTION_KEYS is unset/);

  for (const argv of [['keys', 'list'], ['connections', 'list'], ['integrations', 'list']]) {
    const again = await cli(argv, env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '', `${argv.join(' ')} prints nothing about the key`);
  }
});

test('serve prints the development-key warning once at every start', async () => {
  const env = await developmentEnv();
  assert.equal((await cli(['connections', 'list'], env)).code, 0);
  for (let start = 0; start < 2; start++) {
    const served = await serveOnce(env);
    assert.equal(served.code, 0, served.stderr);
    assert.equal(served.stderr.split(WARNING).length - 1, 1, served.stderr);
  }
});
