import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { commands, rotateSealedValues, runCli, type CliIo } from '../src/cli/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { hashSecret, KeyRing } from '../src/crypto/index.ts';
import { newId } from '../src/ids.ts';
import { createMemoryLogger } from '../src/logger.ts';
import { SANDBOX_DEFAULT_CLIENT, startSandbox } from '../src/sandbox/index.ts';
import { createTokenkeeper } from '../src/service.ts';
import { importConnection } from '../src/tokens/index.ts';
import {
  insertConnectSession,
  listSealedClientSecrets,
  listSealedTokens,
  listSealedVerifiers,
  findIntegrationByKey,
  redactDatabaseUrl,
  type Database,
  type DatabaseHandle,
} from '../src/store/index.ts';
import { testDialects, type TestDialect } from './helpers/test-database.ts';
import { storedText, testStorage, type TestStorage } from './helpers/test-storage.ts';
import { freePort } from './helpers/waiting.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** The migrations the code carries, in the order they apply. */
const MIGRATIONS = readdirSync(join(REPO, 'src', 'store', 'migrations'))
  .filter((name) => /^\d{4}-.*\.ts$/.test(name))
  .map((name) => name.replace(/\.ts$/, ''))
  .sort();
const tempDirs: string[] = [];
const servers: Server[] = [];
/** The storage of each installation `setup` made, by its data dir. */
const storages = new Map<string, TestStorage>();

after(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  for (const storage of storages.values()) await storage.drop();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-cli-'));
  tempDirs.push(dir);
  return dir;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  stdin?: string;
  stderrIsTTY?: boolean;
  signal?: AbortSignal;
  /** Receives stdout as it is written (serve prints its banner, then waits). */
  onStdout?: (text: string) => void;
}

/** Runs a command line in-process with captured output, the given environment and a temp cwd. */
async function run(argv: string[], env: Record<string, string>, options: RunOptions = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
      options.onStdout?.(stdout);
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
    cwd: env.TOKENKEEPER_DATA_DIR ?? tempDir(),
    readStdin: options.stdin === undefined ? undefined : async () => options.stdin!,
    stderrIsTTY: options.stderrIsTTY ?? false,
    signal: options.signal,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/**
 * A fresh installation: its own data dir, no sandbox, a port nothing listens on; on PostgreSQL
 * its own schema, selected by DATABASE_URL as an operator would.
 */
async function setup(extra: Record<string, string> = {}, dialect: TestDialect = 'sqlite'): Promise<Record<string, string>> {
  const dataDir = tempDir();
  const storage = await testStorage(dialect);
  storages.set(dataDir, storage);
  return {
    TOKENKEEPER_DATA_DIR: dataDir,
    TOKENKEEPER_SANDBOX: 'false',
    TOKENKEEPER_PORT: String(await freePort()),
    TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
    ...storage.env,
    ...extra,
  };
}

/** The installation's database, opened directly (the test reads what the commands stored). */
function openStorage(env: Record<string, string>): Promise<DatabaseHandle> {
  const dataDir = env.TOKENKEEPER_DATA_DIR!;
  return storages.get(dataDir)!.open(dataDir);
}

/** A real HTTP server standing in for a provider's token endpoint: 405 to anything but POST. */
async function startTokenEndpoint(): Promise<string> {
  const server = createHttpServer((request, response) => {
    response.writeHead(request.method === 'POST' ? 400 : 405, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: 'invalid_request' }));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Where the installation's data lives, as the commands name it (a path, or the URL without a password). */
function databaseLocation(env: Record<string, string>): string {
  return env.DATABASE_URL ? redactDatabaseUrl(env.DATABASE_URL) : join(env.TOKENKEEPER_DATA_DIR!, 'tokenkeeper.db');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Everything the installation stored (SQLite: every byte of its files; PostgreSQL: every value). */
async function storedBytes(env: Record<string, string>): Promise<string> {
  const database = await openStorage(env);
  try {
    return await storedText(database, env.TOKENKEEPER_DATA_DIR!);
  } finally {
    await database.close();
  }
}

function addCustom(env: Record<string, string>, key: string, base: string, secret = 'custom-client-secret-value'): Promise<RunResult> {
  return run(
    [
      'integrations', 'add', '--key', key, '--provider', 'custom', '--client-id', `${key}-client`, '--client-secret-stdin',
      '--setting', `authorizationEndpoint=${base}/authorize`, '--setting', `tokenEndpoint=${base}/token`, '--scopes', 'read write',
    ],
    env,
    { stdin: `${secret}\n` },
  );
}

// --- help and usage -------------------------------------------------------------------------

test('--help, no command and `help` print the overview listing every command', async () => {
  const env = await setup();
  for (const argv of [['--help'], [], ['help'], ['-h']]) {
    const result = await run(argv, env);
    assert.equal(result.code, 0, argv.join(' '));
    for (const command of commands) assert.match(result.stdout, new RegExp(`^  ${command.name} `, 'm'));
  }
  const version = await run(['--version'], env);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
});

test('every command and subcommand answers --help with its usage and exit 0', async () => {
  const env = await setup();
  const lines = [
    ['serve'], ['sandbox'], ['migrate'], ['doctor'], ['keys'], ['integrations'], ['connections'], ['refresh'], ['deploy'], ['rotate-keys'],
    ['deploy', 'vercel-crons'],
    ['keys', 'create'], ['keys', 'list'], ['keys', 'revoke'], ['keys', 'generate-encryption-key'],
    ['integrations', 'add'], ['integrations', 'list'], ['integrations', 'remove'],
    ['connections', 'list'], ['connections', 'show'], ['connections', 'delete'],
    ['alerts'], ['alerts', 'list'], ['alerts', 'stats'], ['alerts', 'test'], ['alerts', 'silence'], ['alerts', 'silences'], ['alerts', 'unsilence'], ['stuck'],
    ['actions'], ['actions', 'list'], ['actions', 'preview'], ['actions', 'execute'],
    ['webhooks'], ['webhooks', 'list'], ['webhooks', 'create'], ['webhooks', 'delete'], ['webhooks', 'deliveries'], ['webhooks', 'retry'],
  ];
  assert.deepEqual(new Set(lines.filter((line) => line.length === 1).map((line) => line[0])), new Set(commands.map((command) => command.name)));
  for (const line of lines) {
    const result = await run([...line, '--help'], env);
    assert.equal(result.code, 0, `${line.join(' ')} --help: ${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^Usage: tokenkeeper ${line.join(' ')}`), line.join(' '));
    assert.equal(result.stderr, '');
  }
  const viaHelp = await run(['help', 'doctor'], env);
  assert.match(viaHelp.stdout, /^Usage: tokenkeeper doctor/);
});

test('an unknown command exits 2 with one line naming the closest command and a pointer to --help', async () => {
  const env = await setup();
  const result = await run(['doctr'], env);
  assert.equal(result.code, 2);
  assert.equal(result.stderr, 'error: unknown command "doctr"; did you mean "tokenkeeper doctor"?\nRun "tokenkeeper --help" for usage.\n');
  assert.equal(result.stdout, '');

  const far = await run(['frobnicate'], env);
  assert.equal(far.code, 2);
  assert.match(far.stderr, /^error: unknown command "frobnicate" \(commands: serve, sandbox, .*rotate-keys\)\nRun "tokenkeeper --help" for usage\.\n$/);

  const optionFirst = await run(['--port', '80'], env);
  assert.equal(optionFirst.code, 2);
  assert.equal(optionFirst.stderr, 'error: unknown option "--port"; options go after the command\nRun "tokenkeeper --help" for usage.\n');

  const sub = await run(['keys', 'lst'], env);
  assert.equal(sub.code, 2);
  assert.equal(sub.stderr, 'error: unknown subcommand "lst"; did you mean "keys list"?\nRun "tokenkeeper keys --help" for usage.\n');
});

test('an argument error prints one line and a pointer to the command\'s --help, not the usage, exit 2', async () => {
  const env = await setup();
  const cases: [string[], string][] = [
    [['keys', 'create', '--nmae', 'ci'], "error: unknown option '--nmae'; did you mean --name?\nRun \"tokenkeeper keys create --help\" for usage.\n"],
    [['keys', 'create', '--name'], "error: option '--name <value>' argument missing\nRun \"tokenkeeper keys create --help\" for usage.\n"],
    [['keys', 'create'], 'error: missing --name <name> (what the key is for)\nRun "tokenkeeper keys create --help" for usage.\n'],
    [['doctor', '--timeout', 'soon'], 'error: --timeout must be a whole number from 100 to 60000 (got "soon")\nRun "tokenkeeper doctor --help" for usage.\n'],
    [['migrate', 'now'], 'error: unexpected argument "now"\nRun "tokenkeeper migrate --help" for usage.\n'],
    [['integrations'], 'error: missing subcommand (add, list, show, remove)\nRun "tokenkeeper integrations --help" for usage.\n'],
    [['connections', 'show'], 'error: missing <id> (con_…, see `tokenkeeper connections list`)\nRun "tokenkeeper connections show --help" for usage.\n'],
    [['serve', '--port', '80'], "error: unknown option '--port'\nRun \"tokenkeeper serve --help\" for usage.\n"],
  ];
  for (const [argv, stderr] of cases) {
    const result = await run(argv, env);
    assert.equal(result.code, 2, argv.join(' '));
    assert.equal(result.stderr, stderr, argv.join(' '));
    assert.equal(result.stdout, '', argv.join(' '));
    assert.doesNotMatch(result.stderr, /Usage:/);
  }
});

test('the real executable runs: `node bin/tokenkeeper.js --help` in a child process', async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(REPO, 'bin', 'tokenkeeper.js'), '--help'], {
    cwd: tempDir(),
    env: { PATH: process.env.PATH ?? '' },
  });
  assert.match(stdout, /^Tokenkeeper \d+\.\d+\.\d+/);
  assert.match(stdout, /rotate-keys/);
  assert.equal(stderr, '');

  const failed = await promisify(execFile)(process.execPath, [join(REPO, 'bin', 'tokenkeeper.js'), 'doctr'], { cwd: tempDir() }).then(
    () => assert.fail('expected a non-zero exit'),
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(failed.code, 2);
  assert.match(failed.stderr, /did you mean "tokenkeeper doctor"/);
});

// --- configuration errors -------------------------------------------------------------------

test('a configuration error is a readable message naming the variable, exit 78', async () => {
  const env = await setup({ TOKENKEEPER_PORT: 'eighty', TOKENKEEPER_PROT: '1' });
  const result = await run(['keys', 'list'], env);
  assert.equal(result.code, 78);
  assert.match(result.stderr, /configuration has 2 problems/);
  assert.match(result.stderr, /✖ TOKENKEEPER_PORT: /);
  assert.match(result.stderr, /✖ TOKENKEEPER_PROT: is not a Tokenkeeper variable; did you mean TOKENKEEPER_PORT\?/);
  assert.match(result.stderr, /docs\/configuration\.md/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(result.stdout, '');

  const doctor = await run(['doctor'], env);
  assert.equal(doctor.code, 1);
  assert.match(doctor.stdout, /✖ TOKENKEEPER_PORT: /);
});

test('a .env file in the working directory is read like the server reads it, every problem at once', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, '.env'), 'TOKENKEEPER_CRON_SECRET=$CRON_SECRET\nTOKENKEEPER_PORT="not-a-port"\n');
  const result = await run(['keys', 'list'], { TOKENKEEPER_DATA_DIR: dir });
  assert.equal(result.code, 78);
  assert.match(result.stderr, /configuration has 2 problems/);
  assert.match(result.stderr, /✖ TOKENKEEPER_CRON_SECRET: .*line 1 uses \$VAR expansion/);
  assert.match(result.stderr, /✖ TOKENKEEPER_PORT: "not-a-port" is not a port number/);
});

// --- keys generate-encryption-key (reads no storage) -----------------------------------------

test('keys generate-encryption-key prints a usable entry on stdout and rotation advice on stderr', async () => {
  const env = await setup();
  const result = await run(['keys', 'generate-encryption-key', '--id', 'k2'], env);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^k2:[A-Za-z0-9+/]{43}=\n$/);
  const entry = result.stdout.trim();
  const ring = KeyRing.parse(`${entry},${env.TOKENKEEPER_ENCRYPTION_KEYS}`);
  assert.deepEqual(ring.keyIds, ['k2', 'k1']);
  assert.match(result.stderr, /TOKENKEEPER_ENCRYPTION_KEYS=<new entry>,<the current value>/);
  assert.match(result.stderr, /lists k1/);
  assert.match(result.stderr, /tokenkeeper rotate-keys/);
  assert.ok(!result.stderr.includes(entry.slice(3)), 'the key material is printed once, on stdout');

  const clash = await run(['keys', 'generate-encryption-key', '--id', 'k1'], env);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /--id k1 is already in TOKENKEEPER_ENCRYPTION_KEYS/);

  const defaultId = await run(['keys', 'generate-encryption-key'], env);
  assert.match(defaultId.stdout, /^k\d{8}T\d{6}:/);
});

// --- commands on storage: SQLite, and PostgreSQL when TEST_DATABASE_URL is set ------------

/** Stores every kind of sealed value under `keys`: client secrets, token sets, PKCE verifiers. */
async function sealEverything(env: Record<string, string>, connections: number): Promise<void> {
  const config = loadConfig({ env, dotenvPath: false });
  const tk = await createTokenkeeper({ config, logger: createMemoryLogger() });
  try {
    const integration = await tk.integrations.create({
      key: 'acme',
      provider: 'custom',
      client_id: 'acme-client',
      client_secret: 'acme-secret',
      settings: { authorizationEndpoint: 'https://auth.acme.example/authorize', tokenEndpoint: 'https://auth.acme.example/token' },
    });
    await tk.integrations.create({ key: 'public', provider: 'custom', client_id: 'p', settings: integration.settings });
    for (let index = 0; index < connections; index++) {
      await importConnection(
        { integration: 'acme', owner_id: `user-${index}`, access_token: `access-${index}`, refresh_token: `refresh-${index}`, expires_in: 3600 },
        { integrations: tk.integrations, connections: tk.connections, clock: tk.clock },
      );
    }
    const sessionId = newId('cs');
    await insertConnectSession(tk.database.db, {
      id: sessionId,
      integrationId: integration.id,
      ownerId: 'user-0',
      kind: 'user',
      redirectTo: null,
      linkHash: hashSecret(`link-${sessionId}`),
      stateHash: hashSecret(`state-${sessionId}`),
      codeVerifierSealed: tk.keyRing.seal('verifier-value', `connect_sessions:${sessionId}:code_verifier`),
      nonce: null,
      expiresAt: Date.now() + 600_000,
      openedAt: Date.now(),
      consumedAt: null,
      createdAt: Date.now(),
    });
  } finally {
    await tk.close();
  }
}

/**
 * `db` whose transactions begin only once `before()` has settled: a write another connection
 * started in between has committed by the time rotation writes (reseal itself is synchronous).
 */
function transactionsAfter(db: Database, before: () => Promise<unknown>): Database {
  return new Proxy(db, {
    get(target, property) {
      if (property !== 'transaction') {
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return () => {
        const builder = target.transaction();
        return {
          execute: async (work: Parameters<typeof builder.execute>[0]) => {
            await before();
            return builder.execute(work);
          },
        };
      };
    },
  });
}

async function allSealed(database: DatabaseHandle): Promise<{ aad: string; sealed: string }[]> {
  return [
    ...(await listSealedTokens(database.db, null, 10_000)).map((row) => ({ aad: `connections:${row.id}:tokens`, sealed: row.sealed })),
    ...(await listSealedClientSecrets(database.db)).map((row) => ({ aad: `integrations:${row.id}:client_secret`, sealed: row.sealed })),
    ...(await listSealedVerifiers(database.db)).map((row) => ({ aad: `connect_sessions:${row.id}:code_verifier`, sealed: row.sealed })),
  ];
}

/**
 * Every value of every `*_sealed` column of every table, found in the database's own catalog:
 * a sealed column that rotation does not know about would show up here under the old key.
 */
async function everySealedColumnValue(database: DatabaseHandle): Promise<{ column: string; value: string }[]> {
  const columns = database.dialect === 'postgres'
    ? await sql<{ table_name: string; column_name: string }>`select table_name, column_name from information_schema.columns
        where table_schema = current_schema() and column_name like '%\\_sealed'`.execute(database.db)
    : await sql<{ table_name: string; column_name: string }>`select m.name as table_name, p.name as column_name
        from sqlite_master m join pragma_table_info(m.name) p where m.type = 'table' and p.name glob '*_sealed'`.execute(database.db);
  const values: { column: string; value: string }[] = [];
  for (const { table_name: table, column_name: column } of columns.rows) {
    const rows = await sql<{ value: string }>`select ${sql.ref(column)} as value from ${sql.table(table)} where ${sql.ref(column)} is not null`.execute(database.db);
    values.push(...rows.rows.map(({ value }) => ({ column: `${table}.${column}`, value })));
  }
  return values;
}

/** The issuer the stored `sandbox` integration points at, read from the database itself. */
async function storedSandboxIssuer(env: Record<string, string>): Promise<string | null> {
  const database = await openStorage(env);
  try {
    const integration = await findIntegrationByKey(database.db, 'sandbox');
    return integration ? (integration.settings as { issuer: string }).issuer : null;
  } finally {
    await database.close();
  }
}

/** Runs `serve` until its banner is printed, then stops it; returns the banner. */
async function serveOnce(env: Record<string, string>): Promise<string> {
  const stop = new AbortController();
  let resolveBanner: (text: string) => void;
  const banner = new Promise<string>((resolve) => (resolveBanner = resolve));
  const running = run(['serve'], env, {
    signal: stop.signal,
    onStdout: (text) => {
      if (text.includes('Press Ctrl+C to stop.')) resolveBanner(text);
    },
  });
  const text = await Promise.race([banner, running.then((result) => assert.fail(`serve ended early: ${result.stderr}`))]);
  stop.abort();
  assert.equal((await running).code, 0);
  return text;
}

for (const dialect of testDialects()) {
  describe(`commands on storage (${dialect})`, () => {
    test('a domain error is `error [code]: message` plus what to do next, exit 1', async () => {
      const env = await setup({}, dialect);
      const result = await run(['integrations', 'remove', 'nope'], env);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error \[integration_not_found\]: No integration with key "nope"\.\n/);
      assert.match(result.stderr, /tokenkeeper integrations list/);

      const badId = await run(['connections', 'show', 'not-an-id'], env);
      assert.equal(badId.code, 1);
      assert.match(badId.stderr, /^error \[invalid_id\]: "not-an-id" is not a connection id/);
    });

    // --- migrate ------------------------------------------------------------------------------

    test('migrate applies pending migrations once, then reports up to date', async () => {
      const env = await setup({}, dialect);
      const status = await run(['migrate', '--status'], env);
      assert.equal(status.code, 0);
      const location = databaseLocation(env);
      assert.ok(status.stdout.startsWith(`${MIGRATIONS.length} pending migrations for ${location}:\n${MIGRATIONS.map((name) => `  • ${name}\n`).join('')}`), status.stdout);

      const first = await run(['migrate'], env);
      assert.equal(first.code, 0, first.stderr);
      assert.ok(first.stdout.startsWith(`Applied ${MIGRATIONS.length} migrations to ${location}:\n${MIGRATIONS.map((name) => `  ✔ ${name}\n`).join('')}`), first.stdout);

      const second = await run(['migrate'], env);
      assert.equal(second.code, 0);
      assert.ok(second.stdout.includes(`The database at ${location} is up to date (latest migration: ${MIGRATIONS.at(-1)})`), second.stdout);
    });

    // --- keys ---------------------------------------------------------------------------------

    test('keys create prints the key once, stores only its hash; list and revoke round-trip', async () => {
      const env = await setup({}, dialect);
      const created = await run(['keys', 'create', '--name', 'billing service'], env);
      assert.equal(created.code, 0, created.stderr);
      const key = /\n {4}(tk_[A-Za-z0-9_-]+)\n/.exec(created.stdout)?.[1];
      assert.ok(key, created.stdout);
      const id = /\((key_[a-z2-7]{20})\)/.exec(created.stdout)?.[1];
      assert.ok(id);
      assert.match(created.stdout, /will not be shown again/);

      const bytes = await storedBytes(env);
      assert.ok(!bytes.includes(key), 'the plaintext key is not in the database file');
      assert.ok(bytes.includes(hashSecret(key)), 'its hash is');

      const listed = await run(['keys', 'list'], env);
      assert.equal(listed.code, 0);
      assert.ok(!listed.stdout.includes(key), 'list never shows the key');
      assert.match(listed.stdout, /^ID\s+NAME\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED$/m);
      assert.match(listed.stdout, new RegExp(`^${id}\\s+billing service\\s+${key.slice(0, 10)}…\\s+\\S+ \\S+\\s+never\\s+-$`, 'm'));

      const json = JSON.parse((await run(['keys', 'list', '--json'], env)).stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(json.map((entry) => [entry.id, entry.name, entry.revoked_at]), [[id, 'billing service', null]]);
      assert.ok(!JSON.stringify(json).includes(key));

      const revoked = await run(['keys', 'revoke', id], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(revoked.stdout, new RegExp(`Revoked API key ${id} \\("billing service"\\)`));
      const afterRevoke = JSON.parse((await run(['keys', 'list', '--json'], env)).stdout) as Array<Record<string, unknown>>;
      assert.match(String(afterRevoke[0]!.revoked_at), /^\d{4}-\d\d-\d\dT/);

      const again = await run(['keys', 'revoke', id], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^error \[api_key_not_found\]/);
      assert.match(again.stderr, /tokenkeeper keys list/);
    });

    // --- integrations -------------------------------------------------------------------------

    test('integrations add (secret from stdin), list and remove; the secret is never printed or stored in plaintext', async () => {
      const env = await setup({}, dialect);
      const secret = 'cli-test-client-secret-7f3a9c';
      const added = await addCustom(env, 'acme', 'https://auth.acme.example', secret);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /Added integration "acme" \(custom, int_[a-z2-7]{20}\)/);
      assert.match(added.stdout, /redirect URI\s+http:\/\/localhost:\d+\/oauth\/callback/);
      assert.match(added.stdout, /client secret\s+stored encrypted/);
      assert.doesNotMatch(added.stderr, /shell history/, 'no warning with --client-secret-stdin');

      const listed = await run(['integrations', 'list'], env);
      assert.equal(listed.code, 0);
      assert.match(listed.stdout, /^acme\s+custom\s+acme-client\s+set\s+read write\s+yes\s+0$/m);
      const json = JSON.parse((await run(['integrations', 'list', '--json'], env)).stdout) as Array<Record<string, unknown>>;
      assert.equal(json[0]!.has_client_secret, true);
      assert.deepEqual(json[0]!.settings, { authorizationEndpoint: 'https://auth.acme.example/authorize', tokenEndpoint: 'https://auth.acme.example/token' });

      for (const output of [added.stdout, added.stderr, listed.stdout, JSON.stringify(json)]) assert.ok(!output.includes(secret));
      assert.ok(!(await storedBytes(env)).includes(secret), 'the secret is sealed at rest');

      const onCommandLine = await run(
        ['integrations', 'add', '--key', 'gh', '--provider', 'github', '--client-id', 'Iv1.abc', '--client-secret', 'visible-secret'],
        env,
      );
      assert.equal(onCommandLine.code, 0, onCommandLine.stderr);
      assert.match(onCommandLine.stderr, /warning: --client-secret puts the secret in your shell history.*--client-secret-stdin/);

      const duplicate = await addCustom(env, 'acme', 'https://auth.acme.example');
      assert.equal(duplicate.code, 1);
      assert.match(duplicate.stderr, /^error \[integration_exists\]/);

      const unknownProvider = await run(['integrations', 'add', '--key', 'x', '--provider', 'gogle', '--client-id', 'c'], env);
      assert.equal(unknownProvider.code, 1);
      assert.match(unknownProvider.stderr, /^error \[unknown_provider\]: Invalid integration: unknown provider "gogle" \(did you mean "google"\? known: google, microsoft, /);

      const badSettings = await run(
        ['integrations', 'add', '--key', 'bad', '--provider', 'custom', '--client-id', 'c', '--setting', 'tokenEndpoint=http://example.com/token'],
        env,
      );
      assert.equal(badSettings.code, 1);
      assert.match(badSettings.stderr, /^error \[invalid_request\]: Invalid integration: .*tokenEndpoint must be an absolute https URL.*authorizationEndpoint is required/);

      const both = await run(['integrations', 'add', '--key', 'b', '--provider', 'custom', '--client-id', 'c', '--client-secret', 's', '--client-secret-stdin'], env, { stdin: 's' });
      assert.equal(both.code, 2);
      assert.match(both.stderr, /not both/);

      const removed = await run(['integrations', 'remove', 'acme'], env);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /Removed integration "acme"\./);
      const remaining = JSON.parse((await run(['integrations', 'list', '--json'], env)).stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(remaining.map((entry) => entry.key), ['gh']);
    });

    test('integrations add reports every problem at once and suggests the names a typo was meant to be', async () => {
      const env = await setup({}, dialect);
      const typos = await run(['integrations', 'add', '--key', 'My Google', '--provider', 'gogle', '--client-id', 'c', '--redirect-uri', 'callback'], env);
      assert.equal(typos.code, 1);
      assert.match(typos.stderr, /^error \[unknown_provider\]: Invalid integration: /);
      assert.match(typos.stderr, /unknown provider "gogle" \(did you mean "google"\?/);
      assert.match(typos.stderr, /key is required: lowercase letters/);
      assert.match(typos.stderr, /redirect_uri must be an absolute http\(s\) URL/);

      const setting = await run(['integrations', 'add', '--key', 'ms', '--provider', 'microsoft', '--client-id', 'c', '--setting', 'tenat=common', '--setting', 'pcke=true'], env);
      assert.equal(setting.code, 1);
      assert.match(setting.stderr, /^error \[invalid_request\]: Invalid integration: settings: unknown setting "tenat" \(did you mean "tenant"\?\); settings: unknown setting "pcke" \(did you mean "pkce"\?\)\.\n/);

      const listed = JSON.parse((await run(['integrations', 'list', '--json'], env)).stdout) as unknown[];
      assert.deepEqual(listed, [], 'nothing was stored');
    });

    // --- connections and refresh against the sandbox provider --------------------------------

    test('refresh, connections list/show/delete against the sandbox provider; no token is ever printed', async () => {
      const sandbox = await startSandbox({ port: 0, accessTokenTtlSeconds: 120 });
      try {
        const env = await setup({}, dialect);
        const added = await run(
          [
            'integrations', 'add', '--key', 'sb', '--provider', 'sandbox', '--client-id', SANDBOX_DEFAULT_CLIENT.client_id,
            '--client-secret-stdin', '--setting', `issuer=${sandbox.issuer}`, '--system-grant', 'client_credentials', '--system-scopes', 'api',
          ],
          env,
          { stdin: SANDBOX_DEFAULT_CLIENT.client_secret },
        );
        assert.equal(added.code, 0, added.stderr);

        // The sweep mints the system connection (client credentials) on its first run.
        const sweep = await run(['refresh', '--all-due', '--json'], env);
        assert.equal(sweep.code, 0, sweep.stderr);
        assert.equal((JSON.parse(sweep.stdout) as { job: string }).job, 'refresh');

        const listed = JSON.parse((await run(['connections', 'list', '--integration', 'sb', '--json'], env)).stdout) as {
          data: Array<Record<string, unknown>>;
          next: string | null;
        };
        assert.equal(listed.data.length, 1);
        const connection = listed.data[0]!;
        assert.equal(connection.kind, 'system');
        assert.equal(connection.status, 'active');
        const id = String(connection.id);

        const table = await run(['connections', 'list'], env);
        assert.match(table.stdout, new RegExp(`^${id}\\s+sb\\s+\\(system\\)\\s+active\\s+in \\d`, 'm'));
        const none = await run(['connections', 'list', '--status', 'needs_reauth'], env);
        assert.equal(none.stdout, 'No connections match.\n');

        const before = sandbox.stats();
        const refreshed = await run(['refresh', id], env);
        assert.equal(refreshed.code, 0, refreshed.stderr);
        assert.match(refreshed.stdout, new RegExp(`^Refreshed ${id}: the new access token expires at \\d{4}-\\d\\d-\\d\\d \\S+Z \\(in 1m \\d+s\\)\\.\\n$`));
        assert.ok(sandbox.stats().tokenRequests > before.tokenRequests, 'the provider was really called');

        const shown = await run(['connections', 'show', id], env);
        assert.equal(shown.code, 0, shown.stderr);
        assert.match(shown.stdout, new RegExp(`^Connection ${id}\\n`));
        assert.match(shown.stdout, /status\s+active/);
        assert.match(shown.stdout, /token\.refreshed/);

        // The tokens now stored (decrypted here, in the test) appear in no output.
        const ring = KeyRing.parse(env.TOKENKEEPER_ENCRYPTION_KEYS!);
        const database = await openStorage(env);
        const [sealed] = await listSealedTokens(database.db, null, 10);
        await database.close();
        const tokens = JSON.parse(ring.open(sealed!.sealed, `connections:${id}:tokens`)) as { access_token: string };
        for (const output of [refreshed.stdout, shown.stdout, table.stdout, JSON.stringify(listed)]) assert.ok(!output.includes(tokens.access_token));

        const deleted = await run(['connections', 'delete', id], env);
        assert.equal(deleted.code, 0, deleted.stderr);
        assert.match(deleted.stdout, new RegExp(`^Deleted connection ${id}\\.`));
        const gone = await run(['connections', 'show', id], env);
        assert.equal(gone.code, 1);
        assert.match(gone.stderr, /^error \[connection_not_found\]/);
      } finally {
        await sandbox.close();
      }
    });

    // --- doctor -------------------------------------------------------------------------------

    test('doctor on a healthy set-up: every check passes, exit 0, no secret printed', async () => {
      const env = await setup({}, dialect);
      assert.equal((await run(['migrate'], env)).code, 0);
      const secret = 'doctor-healthy-secret-0b1c';
      assert.equal((await addCustom(env, 'local', await startTokenEndpoint(), secret)).code, 0);
      assert.equal((await run(['keys', 'create', '--name', 'x'], env)).code, 0);

      const result = await run(['doctor'], env);
      assert.equal(result.code, 0, result.stdout);
      assert.match(result.stdout, /✔ valid: development/);
      assert.match(result.stdout, dialect === 'sqlite' ? /✔ SQLite database .* opens and answers/ : /✔ PostgreSQL .* answers/);
      assert.match(result.stdout, /✔ schema up to date/);
      assert.match(result.stdout, /✔ TOKENKEEPER_ENCRYPTION_KEYS loads: 1 key \(k1\)/);
      assert.match(result.stdout, /✔ all 1 stored secret is sealed with "k1"/);
      assert.match(result.stdout, /✔ local: provider custom, client id local-client, client secret decrypts/);
      assert.match(result.stdout, /✔ local: token endpoint http:\/\/127\.0\.0\.1:\d+\/token reachable \(HTTP 405\)/);
      assert.match(result.stdout, new RegExp(`✔ port ${env.TOKENKEEPER_PORT} is free`));
      assert.match(result.stdout, /All checks passed/);
      assert.doesNotMatch(result.stdout, /✖/);
      assert.ok(!result.stdout.includes(secret));

      const json = JSON.parse((await run(['doctor', '--json'], env)).stdout) as { healthy: boolean; problems: number };
      assert.equal(json.healthy, true);
      assert.equal(json.problems, 0);
    });

    test('doctor on a brand-new directory (and, on PostgreSQL, an empty schema) changes nothing and only warns', async () => {
      const installation = await setup({}, dialect);
      const env = { ...installation };
      delete env.TOKENKEEPER_ENCRYPTION_KEYS;
      const dataDir = join(env.TOKENKEEPER_DATA_DIR!, 'data');
      env.TOKENKEEPER_DATA_DIR = dataDir;
      const result = await run(['doctor'], env);
      assert.equal(result.code, 0, result.stdout);
      if (dialect === 'sqlite') {
        assert.match(result.stdout, /⚠ no database yet at .*tokenkeeper\.db\n\s+→ `tokenkeeper serve` or `tokenkeeper migrate` creates it/);
      } else {
        assert.ok(result.stdout.includes(`⚠ ${MIGRATIONS.length} pending migrations: ${MIGRATIONS.join(', ')}\n`), result.stdout);
        const database = await openStorage(installation);
        try {
          const tables = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_schema = current_schema()`.execute(database.db);
          assert.equal(tables.rows[0]!.n, 0, 'no table was created');
        } finally {
          await database.close();
        }
      }
      assert.match(result.stdout, /⚠ no encryption key yet: a development key will be generated/);
      assert.throws(() => readdirSync(dataDir), { code: 'ENOENT' }, 'no data directory was created');
    });

    test('doctor names an integration whose endpoint is down and exits 1', async () => {
      const env = await setup({}, dialect);
      assert.equal((await addCustom(env, 'healthy', await startTokenEndpoint())).code, 0);
      const closed = `http://127.0.0.1:${await freePort()}`;
      assert.equal((await addCustom(env, 'broken', closed)).code, 0);
      const issuerDown = await run(
        ['integrations', 'add', '--key', 'idp', '--provider', 'oidc', '--client-id', 'c', '--setting', `issuer=${closed}/realms/x`],
        env,
      );
      assert.equal(issuerDown.code, 0, issuerDown.stderr);

      const result = await run(['doctor', '--timeout', '2000'], env);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /✔ healthy: token endpoint .* reachable/);
      assert.match(result.stdout, new RegExp(`✖ broken: token endpoint ${closed.replaceAll('.', '\\.')}/token unreachable: .*ECONNREFUSED`));
      assert.match(result.stdout, /✖ idp: discovery failed: Discovery failed for issuer/);
      assert.match(result.stdout, /2 problems found/);
    });

    test('doctor warns about secrets under an older key and fails on secrets under a key that is gone', async () => {
      const k1 = KeyRing.generateKeySpec('k1');
      const k2 = KeyRing.generateKeySpec('k2');
      const env = await setup({ TOKENKEEPER_ENCRYPTION_KEYS: k1 }, dialect);
      assert.equal((await addCustom(env, 'acme', await startTokenEndpoint())).code, 0);

      const older = await run(['doctor'], { ...env, TOKENKEEPER_ENCRYPTION_KEYS: `${k2},${k1}` });
      assert.equal(older.code, 0, older.stdout);
      assert.match(older.stdout, /⚠ 1 of 1 stored secrets are sealed with an older key \(1 under "k1"\)\n\s+→ run `tokenkeeper rotate-keys`/);

      const gone = await run(['doctor'], { ...env, TOKENKEEPER_ENCRYPTION_KEYS: k2 });
      assert.equal(gone.code, 1);
      assert.match(gone.stdout, /✖ stored secrets sealed with keys that are not configured: 1 under "k1"/);
      assert.match(gone.stdout, /✖ acme: the client secret cannot be decrypted/);
    });

    // --- rotate-keys --------------------------------------------------------------------------

    test('rotate-keys re-encrypts every sealed value under the new first key, and a re-run finds all current', async () => {
      const k1 = KeyRing.generateKeySpec('k1');
      const k2 = KeyRing.generateKeySpec('k2');
      const env = await setup({ TOKENKEEPER_ENCRYPTION_KEYS: k1 }, dialect);
      await sealEverything(env, 5);
      const rotatingEnv = { ...env, TOKENKEEPER_ENCRYPTION_KEYS: `${k2},${k1}` };

      const dry = await run(['rotate-keys', '--dry-run'], rotatingEnv);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /Dry run: 7 of 7 stored secrets would be re-encrypted under key "k2"/);

      const result = await run(['rotate-keys', '--batch-size', '2'], rotatingEnv);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Key rotation to "k2": 7 re-encrypted, 0 already current, 0 skipped\./);
      assert.match(result.stdout, /^connection tokens\s+5\s+0\s+0\s+0$/m);
      assert.match(result.stdout, /^client secrets\s+1\s+0\s+0\s+0$/m);
      assert.match(result.stdout, /^PKCE verifiers\s+1\s+0\s+0\s+0$/m);
      assert.match(result.stdout, /k1 can be removed from TOKENKEEPER_ENCRYPTION_KEYS/);
      // Not a terminal: one progress line per batch (3 batches of tokens, 1 secret, 1 verifier), on stderr.
      const progress = result.stderr.split('\n').filter((line) => line.startsWith('Re-encrypting: '));
      assert.deepEqual(progress, [
        'Re-encrypting: 0/7 (0%) starting',
        'Re-encrypting: 2/7 (28%) connection tokens',
        'Re-encrypting: 4/7 (57%) connection tokens',
        'Re-encrypting: 5/7 (71%) connection tokens',
        'Re-encrypting: 6/7 (85%) client secrets',
        'Re-encrypting: 7/7 (100%) PKCE verifiers',
      ]);

      // Every value now names k2 and opens with k2 alone, bound to its row.
      const k2Only = KeyRing.parse(k2);
      const database = await openStorage(env);
      try {
        const values = await allSealed(database);
        assert.equal(values.length, 7);
        for (const value of values) {
          assert.equal(k2Only.keyIdOf(value.sealed), 'k2');
          assert.doesNotThrow(() => k2Only.open(value.sealed, value.aad));
        }
        const tokens = values.filter((value) => value.aad.startsWith('connections:')).map((value) => JSON.parse(k2Only.open(value.sealed, value.aad)));
        assert.deepEqual(tokens.map((token) => token.access_token).sort(), ['access-0', 'access-1', 'access-2', 'access-3', 'access-4']);
        // …and nothing sealed anywhere else in the database was left under k1.
        const everywhere = await everySealedColumnValue(database);
        assert.equal(everywhere.length, 7, JSON.stringify(everywhere.map((entry) => entry.column)));
        assert.deepEqual(everywhere.filter((entry) => k2Only.keyIdOf(entry.value) !== 'k2'), []);
      } finally {
        await database.close();
      }

      const rerun = await run(['rotate-keys', '--json'], rotatingEnv);
      assert.equal(rerun.code, 0, rerun.stderr);
      const summary = JSON.parse(rerun.stdout) as Record<string, unknown>;
      assert.equal(summary.reencrypted, 0);
      assert.equal(summary.already_current, 7);
      assert.equal(summary.skipped, 0);

      // The service itself now runs with k2 only.
      const afterwards = await run(['connections', 'list', '--json'], { ...env, TOKENKEEPER_ENCRYPTION_KEYS: k2 });
      assert.equal(afterwards.code, 0, afterwards.stderr);
    });

    test('rotation skips a value changed between its read and its write, and the next run picks it up', async () => {
      const k1 = KeyRing.generateKeySpec('k1');
      const env = await setup({ TOKENKEEPER_ENCRYPTION_KEYS: k1 }, dialect);
      await sealEverything(env, 3);
      const ring = KeyRing.parse(`${KeyRing.generateKeySpec('k2')},${k1}`);
      const oldRing = KeyRing.parse(k1);
      // Another process (a second connection) commits a new token set for one connection after
      // rotation read it and before rotation writes it, as a refresh in a running server would.
      const other = await openStorage(env);
      const database = await openStorage(env);
      try {
        const [target] = await listSealedTokens(database.db, null, 1);
        const refreshed = oldRing.seal(JSON.stringify({ access_token: 'refreshed-meanwhile', refresh_token: 'r2' }), `connections:${target!.id}:tokens`);
        let otherWrite: Promise<unknown> = Promise.resolve();
        const racingRing = new Proxy(ring, {
          get(ring, property) {
            if (property !== 'reseal') return Reflect.get(ring, property, ring);
            return (sealed: string, associatedData: string): string => {
              if (associatedData === `connections:${target!.id}:tokens`) {
                otherWrite = other.db.updateTable('connections').set({ tokens_sealed: refreshed }).where('id', '=', target!.id).execute();
              }
              return ring.reseal(sealed, associatedData);
            };
          },
        });
        const first = await rotateSealedValues({ db: transactionsAfter(database.db, () => otherWrite), keyRing: racingRing, batchSize: 10 });
        const tokens = first.columns.find((column) => column.column === 'connections.tokens_sealed')!;
        assert.deepEqual([tokens.reencrypted, tokens.skipped], [2, 1]);
        const [stillThere] = (await listSealedTokens(database.db, null, 10)).filter((row) => row.id === target!.id);
        assert.equal(stillThere!.sealed, refreshed, 'the newer token set was not overwritten');

        const second = await rotateSealedValues({ db: database.db, keyRing: ring, batchSize: 10 });
        const again = second.columns.find((column) => column.column === 'connections.tokens_sealed')!;
        assert.deepEqual([again.reencrypted, again.current, again.skipped], [1, 2, 0]);
        const [rotated] = (await listSealedTokens(database.db, null, 10)).filter((row) => row.id === target!.id);
        assert.equal(ring.keyIdOf(rotated!.sealed), 'k2');
        assert.equal(JSON.parse(ring.open(rotated!.sealed, `connections:${target!.id}:tokens`)).access_token, 'refreshed-meanwhile');
      } finally {
        await other.close();
        await database.close();
      }
    });

    test('rotate-keys on a terminal redraws one progress bar in place', async () => {
      const k1 = KeyRing.generateKeySpec('k1');
      const env = await setup({ TOKENKEEPER_ENCRYPTION_KEYS: k1 }, dialect);
      await sealEverything(env, 3);
      const result = await run(['rotate-keys', '--batch-size', '1'], { ...env, TOKENKEEPER_ENCRYPTION_KEYS: `${KeyRing.generateKeySpec('k2')},${k1}` }, { stderrIsTTY: true });
      assert.equal(result.code, 0, result.stderr);
      const draws = result.stderr.split('\r\x1b[2K').filter(Boolean);
      assert.equal(draws.length, 1 + 3 + 1 + 1, 'one redraw per batch, plus the start');
      assert.match(draws.at(-1)!, /^Re-encrypting \[█{30}\] 100% 5\/5 PKCE verifiers\n$/);
      assert.equal(result.stderr.split('\n').length, 2, 'a single line in the end');
    });

    test('rotate-keys reports values no configured key opens and exits 1', async () => {
      const k0 = KeyRing.generateKeySpec('k0');
      const env = await setup({ TOKENKEEPER_ENCRYPTION_KEYS: k0 }, dialect);
      await sealEverything(env, 1);
      const result = await run(['rotate-keys'], { ...env, TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k2') });
      assert.equal(result.code, 1);
      assert.match(result.stdout, /3 values cannot be opened with any configured key \(k2\)/);
      assert.match(result.stdout, /connections\.tokens_sealed con_[a-z2-7]{20}/);
      assert.match(result.stdout, /Add the key that sealed them back/);
    });

    // --- serve --------------------------------------------------------------------------------

    test('serve prints the URL, a working development API key and curl example, and stops cleanly', async () => {
      const env = await setup({ TOKENKEEPER_SWEEP_INTERVAL: '0' }, dialect);
      const stop = new AbortController();
      let resolveBanner: (text: string) => void;
      const banner = new Promise<string>((resolve) => (resolveBanner = resolve));
      const running = run(['serve'], env, {
        signal: stop.signal,
        onStdout: (text) => {
          if (text.includes('Press Ctrl+C to stop.')) resolveBanner(text);
        },
      });
      const text = await Promise.race([banner, running.then((result) => assert.fail(`serve ended early: ${result.stderr}`))]);
      const url = `http://localhost:${env.TOKENKEEPER_PORT}`;
      assert.match(text, new RegExp(`Open\\s+${url}/\\n`));
      assert.match(text, new RegExp(`Data\\s+${escapeRegExp(databaseLocation(env))}\\n`));
      const curl = /curl -H "Authorization: Bearer (tk_[A-Za-z0-9_-]+)" (\S+)/.exec(text);
      assert.ok(curl, text);
      assert.equal(curl[2], `${url}/v1/connections`);
      const response = await fetch(`http://127.0.0.1:${env.TOKENKEEPER_PORT}/v1/connections`, { headers: { authorization: `Bearer ${curl[1]}` } });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { data: [], next: null });

      stop.abort();
      const result = await running;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Tokenkeeper stopped\.\n$/);
      await assert.rejects(fetch(`http://127.0.0.1:${env.TOKENKEEPER_PORT}/health`), 'no longer listening');
    });

    test('the production banner points at the web page only when it is on (TOKENKEEPER_DASHBOARD_PASSWORD)', async () => {
      const production = {
        TOKENKEEPER_ENV: 'production',
        TOKENKEEPER_HOST: '127.0.0.1',
        TOKENKEEPER_PUBLIC_URL: 'https://tokens.example.com',
        TOKENKEEPER_SWEEP_INTERVAL: '0',
        TOKENKEEPER_LOG_LEVEL: 'error',
      };
      const off = await serveOnce(await setup(production, dialect));
      assert.doesNotMatch(off, /^  Open /m, 'nothing to open: the page is off');
      assert.doesNotMatch(off, /https:\/\/tokens\.example\.com\/\n/);
      assert.match(off, /Web page\s+off in production; set TOKENKEEPER_DASHBOARD_PASSWORD to turn it on\n/);
      assert.match(off, /API\s+https:\/\/tokens\.example\.com\/v1 /);

      const on = await serveOnce(await setup({ ...production, TOKENKEEPER_DASHBOARD_PASSWORD: 'correct horse battery staple' }, dialect));
      assert.match(on, /Open\s+https:\/\/tokens\.example\.com\/   \(sign in with TOKENKEEPER_DASHBOARD_PASSWORD, any username\)\n/);
      assert.ok(!on.includes('correct horse battery staple'), 'the password is never printed');
    });

    test('serve on a port in use says which port and which variable changes it, exit 1', async () => {
      const blocker = createNetServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const port = (blocker.address() as AddressInfo).port;
      try {
        const env = await setup({ TOKENKEEPER_PORT: String(port), TOKENKEEPER_SWEEP_INTERVAL: '0' }, dialect);
        const result = await run(['serve'], env);
        assert.equal(result.code, 1);
        assert.match(result.stderr, new RegExp(`cannot start: port ${port} \\(for Tokenkeeper\\) is already in use`));
        assert.match(result.stderr, /TOKENKEEPER_PORT=<port>/);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });

    test('serve whose port is taken changes nothing stored: the sandbox integration keeps pointing at the running sandbox', async () => {
      const env = await setup({ TOKENKEEPER_SANDBOX: 'true', TOKENKEEPER_SANDBOX_PORT: String(await freePort()), TOKENKEEPER_SWEEP_INTERVAL: '0' }, dialect);
      const banner = await serveOnce(env);
      assert.match(banner, new RegExp(`Sandbox state\\s+${env.TOKENKEEPER_DATA_DIR!.replaceAll('/', '\\/')}\\/sandbox-state\\.db\\s+\\(.*development only\\)`));
      const issuer = await storedSandboxIssuer(env);
      assert.equal(issuer, `http://127.0.0.1:${env.TOKENKEEPER_SANDBOX_PORT}`);

      const blocker = createNetServer();
      await new Promise<void>((resolve) => blocker.listen(Number(env.TOKENKEEPER_PORT), '127.0.0.1', resolve));
      try {
        const result = await run(['serve'], { ...env, TOKENKEEPER_SANDBOX_PORT: String(await freePort()) });
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, new RegExp(`cannot start: port ${env.TOKENKEEPER_PORT} \\(for Tokenkeeper\\) is already in use`));
        assert.equal(await storedSandboxIssuer(env), issuer);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });
  });
}
