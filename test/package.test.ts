import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { freePort } from './helpers/waiting.ts';

// The package as a user gets it: `npm pack` of this repository (which builds dist/ on prepack),
// installed from the tarball into an empty project, then used the documented ways. One pack and
// one install serve every case below; they take tens of seconds, most of it npm.

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const root = mkdtempSync(join(tmpdir(), 'tokenkeeper-package-'));
const project = join(root, 'project');
let packedFiles: string[] = [];

/** Node's own bin directory first, so `npm` and `npx` are the ones beside the running Node. */
const baseEnv = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: { ...baseEnv, ...env }, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function dataDir(name: string): string {
  const dir = join(root, 'data', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

before(async () => {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', root], REPO);
  assert.equal(packed.code, 0, `npm pack failed:\n${packed.stdout}\n${packed.stderr}`);
  // Lifecycle scripts may print before the JSON; the report is the last top-level array.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.lastIndexOf('\n[') + 1)) as [{ filename: string; files: { path: string }[] }];
  packedFiles = report[0].files.map((file) => file.path);

  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const installed = await run('npm', ['install', join(root, report[0].filename), '--no-audit', '--no-fund', '--prefer-offline'], project);
  assert.equal(installed.code, 0, `npm install failed:\n${installed.stdout}\n${installed.stderr}`);
});

after(() => rmSync(root, { recursive: true, force: true }));

describe('the packed package, installed into an empty project', () => {
  test('the tarball holds the built JavaScript, its types and the bin, and no tests or TypeScript sources', () => {
    for (const file of ['package.json', 'README.md', 'bin/tokenkeeper.js', 'dist/index.js', 'dist/index.d.ts', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/cli/main.js']) {
      assert.ok(packedFiles.includes(file), `${file} is packed`);
    }
    assert.deepEqual(packedFiles.filter((file) => file.startsWith('test/') || file.startsWith('src/') || file.startsWith('bench/')), []);
    assert.deepEqual(packedFiles.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')), []);
  });

  test('import { createTokenkeeper } from "tokenkeeper" works as the README shows', async () => {
    const dir = dataDir('library');
    writeFileSync(
      join(project, 'library.mjs'),
      `import { createTokenkeeper, loadConfig, isTokenkeeperError } from 'tokenkeeper';
const config = loadConfig({ env: { TOKENKEEPER_DATA_DIR: process.env.DATA_DIR, TOKENKEEPER_SANDBOX: 'false' }, dotenvPath: false });
const tk = await createTokenkeeper({ config });
await tk.integrations.create({ key: 'acme', provider: 'custom', client_id: 'c', settings: { authorizationEndpoint: 'https://acme.test/a', tokenEndpoint: 'https://acme.test/t' } });
const { record } = await tk.connections.saveTokenSet({
  integration: await tk.integrations.resolveByKey('acme'), ownerId: 'u1', kind: 'user', issuedAt: Date.now(), identity: null, imported: true,
  tokens: { accessToken: 'packaged-access', refreshToken: null, idToken: null, tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, scopes: null, extra: {} },
});
const token = await tk.tokens.getToken(record.id, { minValiditySeconds: 60 });
const tooLong = await tk.tokens.getToken(record.id, { minValiditySeconds: 7_200 }).catch((error) => isTokenkeeperError(error, 'min_validity_unsatisfiable'));
await tk.close();
console.log(JSON.stringify({ accessToken: token.accessToken, tooLong }));
`,
    );
    const result = await run(process.execPath, ['library.mjs'], project, { DATA_DIR: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').at(-1)!), { accessToken: 'packaged-access', tooLong: true });
  });

  test('startServer and the typed client from "tokenkeeper/client" talk to each other', async () => {
    const dir = dataDir('server');
    writeFileSync(
      join(project, 'server.mjs'),
      `import { loadConfig, startServer } from 'tokenkeeper';
import { createClient, TokenkeeperApiError } from 'tokenkeeper/client';
const config = loadConfig({ env: { TOKENKEEPER_DATA_DIR: process.env.DATA_DIR, TOKENKEEPER_SANDBOX: 'false', TOKENKEEPER_SWEEP_INTERVAL: '0', TOKENKEEPER_HOST: '127.0.0.1' }, dotenvPath: false });
const server = await startServer(config, { port: 0 });
try {
  const client = createClient({ url: server.url, apiKey: server.developmentApiKey });
  const integration = await client.createIntegration({ key: 'acme', provider: 'custom', client_id: 'c', settings: { authorizationEndpoint: 'https://acme.test/a', tokenEndpoint: 'https://acme.test/t' } });
  const listed = await client.listIntegrations();
  const missing = await client.getIntegration('nope').catch((error) => error instanceof TokenkeeperApiError && { status: error.status, code: error.code });
  console.log(JSON.stringify({ created: integration.key, listed: listed.data.map((entry) => entry.key), missing }));
} finally {
  await server.close();
}
`,
    );
    const result = await run(process.execPath, ['server.mjs'], project, { DATA_DIR: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').at(-1)!), {
      created: 'acme',
      listed: ['acme'],
      missing: { status: 404, code: 'integration_not_found' },
    });
  });

  test('npx tokenkeeper runs the built command line: --help, --version, doctor, migrate', async () => {
    const env = { TOKENKEEPER_DATA_DIR: dataDir('cli'), TOKENKEEPER_SANDBOX: 'false', TOKENKEEPER_PORT: String(await freePort()) };
    // --no: never fetch a package of that name from the registry; only the installed one may run.
    const help = await run('npx', ['--no', '--', 'tokenkeeper', '--help'], project, env);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: tokenkeeper/);

    const version = await run('npx', ['--no', '--', 'tokenkeeper', '--version'], project, env);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /0\.\d+\.\d+/, 'the version is read from the installed package.json');

    const before = await run('npx', ['--no', '--', 'tokenkeeper', 'doctor'], project, env);
    assert.equal(before.code, 0, before.stdout + before.stderr);
    assert.match(before.stdout, /no database yet/);

    const migrated = await run('npx', ['--no', '--', 'tokenkeeper', 'migrate'], project, env);
    assert.equal(migrated.code, 0, migrated.stdout + migrated.stderr);

    const doctor = await run('npx', ['--no', '--', 'tokenkeeper', 'doctor'], project, env);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, /✔ schema up to date/);
  });

  test('bin/tokenkeeper.js runs the built files when installed and the sources in the repository', async () => {
    // A module hook names the CLI entry that each run loads.
    const hook = `data:text/javascript,${encodeURIComponent(
      "import { registerHooks } from 'node:module'; registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); if (/cli\\/main\\.[jt]s$/.test(result.url)) process.stderr.write('entry ' + result.url + '\\n'); return result; } });",
    )}`;
    const installed = await run('npx', ['--no', '--', 'tokenkeeper', '--version'], project, { NODE_OPTIONS: `--import=${hook}` });
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stderr, /^entry file:.*\/node_modules\/tokenkeeper\/dist\/cli\/main\.js$/m);

    // The repository holds a built dist/ now (npm pack made it); its own bin still runs src/.
    const repository = await run(process.execPath, [`--import=${hook}`, join(REPO, 'bin', 'tokenkeeper.js'), '--version'], REPO);
    assert.equal(repository.code, 0, repository.stderr);
    assert.match(repository.stderr, new RegExp(`^entry ${new URL('../src/cli/main.ts', import.meta.url).href.replaceAll('.', '\\.')}$`, 'm'));
  });

  test('the published types reach a TypeScript consumer (wrong calls are type errors, not any)', async () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { createTokenkeeper, loadConfig, type Tokenkeeper } from 'tokenkeeper';
import { createClient, TokenkeeperApiError, type TokenResponse } from 'tokenkeeper/client';

const tk: Tokenkeeper = await createTokenkeeper({ config: loadConfig() });
// @ts-expect-error minValiditySeconds is a number
await tk.tokens.getToken('con_x', { minValiditySeconds: 'soon' });

const client = createClient({ url: 'http://localhost:3170', apiKey: 'tk_x' });
const token: TokenResponse = await client.getToken('con_x', { minValidity: 60 });
const accessToken: string = token.access_token;
// @ts-expect-error the wire field is access_token
token.accessToken;
// @ts-expect-error minValidity is a number of seconds
await client.getToken('con_x', { minValidity: '60' });
try {
  await client.getConnection('con_x');
} catch (error) {
  if (error instanceof TokenkeeperApiError) {
    const status: number = error.status;
    const retryAfter: number | null = error.retryAfter;
    console.log(status, retryAfter, error.code, error.requestId, accessToken);
  }
}
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2024',
          strict: true,
          noEmit: true,
          // Our declarations must check as they are, dependencies without types included.
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(REPO, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const result = await run(process.execPath, [TSC, '-p', '.'], project);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });
});
