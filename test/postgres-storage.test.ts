import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli, type CliIo } from '../src/cli/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { KeyRing } from '../src/crypto/index.ts';
import { createMemoryLogger } from '../src/logger.ts';
import { createTokenkeeper } from '../src/service.ts';
import { freshPostgresSchema, testDialects } from './helpers/test-database.ts';

/** However many migrations the code carries: every one must apply on PostgreSQL. */
const MIGRATION_COUNT = readdirSync(new URL('../src/store/migrations/', import.meta.url)).filter((name) => /^\d{4}-.*\.ts$/.test(name)).length;

// PostgreSQL as storage (DATABASE_URL): start-up, migrations under concurrency, the CLI.
const onPostgres = testDialects().includes('postgres');
const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function env(databaseUrl: string): Record<string, string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-pg-'));
  dirs.push(dataDir);
  return {
    TOKENKEEPER_DATA_DIR: dataDir,
    TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
    TOKENKEEPER_SANDBOX: 'false',
    TOKENKEEPER_SWEEP_INTERVAL: '0',
    DATABASE_URL: databaseUrl,
  };
}

async function cli(argv: string[], variables: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: variables,
    cwd: variables.TOKENKEEPER_DATA_DIR!,
    stderrIsTTY: false,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

test('two instances starting together on a fresh PostgreSQL schema: one migrates, both start', { skip: !onPostgres }, async () => {
  const schema = await freshPostgresSchema();
  try {
    const config = loadConfig({ env: env(schema.url), dotenvPath: false });
    const loggers = [createMemoryLogger('info'), createMemoryLogger('info')];
    const [one, two] = await Promise.all(loggers.map((logger) => createTokenkeeper({ config, logger })));
    try {
      assert.equal(one!.database.dialect, 'postgres');
      const applied = loggers.filter((logger) => logger.lines.some((line) => line.includes('database migrated')));
      assert.equal(applied.length, 1, 'exactly one instance applied the migrations');
      await one!.integrations.create({ key: 'shared', provider: 'custom', client_id: 'c', settings: { authorizationEndpoint: 'https://id.example/authorize', tokenEndpoint: 'https://id.example/token' } });
      assert.equal((await two!.integrations.list()).map((integration) => integration.key).join(), 'shared', 'both see the same database');
    } finally {
      await one!.close();
      await two!.close();
    }
  } finally {
    await schema.drop();
  }
});

test('an unreachable DATABASE_URL stops start-up with a message naming it, without the password', { skip: !onPostgres }, async () => {
  const config = loadConfig({ env: env('postgres://tk:secret-pass@127.0.0.1:1/nowhere'), dotenvPath: false });
  await assert.rejects(createTokenkeeper({ config, logger: createMemoryLogger() }), (error: Error) => {
    assert.match(error.message, /cannot connect to PostgreSQL at .*127\.0\.0\.1:1.* \(DATABASE_URL\)/);
    assert.doesNotMatch(error.message, /secret-pass/);
    return true;
  });
});

test('tokenkeeper migrate and doctor work on PostgreSQL', { skip: !onPostgres }, async () => {
  const schema = await freshPostgresSchema();
  try {
    const variables = env(schema.url);
    const status = await cli(['migrate', '--status'], variables);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`${MIGRATION_COUNT} pending migrations`));
    const applied = await cli(['migrate'], variables);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, new RegExp(`Applied ${MIGRATION_COUNT} migrations`));
    const doctor = await cli(['doctor'], variables);
    assert.match(doctor.stdout, /PostgreSQL .* answers/);
    assert.match(doctor.stdout, /schema up to date/);
    assert.doesNotMatch(doctor.stdout + doctor.stderr, /SQLite only|is ignored/);
  } finally {
    await schema.drop();
  }
});
