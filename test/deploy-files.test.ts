import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { promisify } from 'node:util';
// `yaml` is installed with @fastify/swagger (which serves the OpenAPI document as YAML with it).
import { parse as parseYaml } from 'yaml';
import { configVariables } from '../src/config/config-variables.ts';
import { loadConfig } from '../src/config/index.ts';
import { startHarness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

/**
 * The container files cannot be built or run here (no Docker), so this reads them the way Docker
 * and Compose would and checks what would make them fail: a service that would not start in
 * production, a variable Tokenkeeper does not know (a typo stops start-up), a health check that
 * does not reach /health, a load balancer that misses an instance, an image that runs as root.
 */

const root = new URL('../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const knownVariables = new Set(configVariables.map((variable) => variable.name));
const DEFAULT_PORT = 3170;
const INSTANCES = ['tokenkeeper-1', 'tokenkeeper-2'];

interface ComposeService {
  image?: string;
  build?: string | { context: string };
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
}

function compose(): { services: Record<string, ComposeService>; volumes?: Record<string, unknown> } {
  return parseYaml(read('docker-compose.yml'), { uniqueKeys: true, strict: true, prettyErrors: true });
}

/**
 * Compose's interpolation for the forms the file uses — `${NAME}`, `${NAME:-default}`,
 * `${NAME:?message}` — with `env` as the user's shell; any other `$` form fails the test.
 */
function interpolate(value: string, env: Record<string, string>): string {
  const result = value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g, (_match, name: string, operator?: string, argument?: string) => {
    const set = env[name];
    if (set !== undefined && set !== '') return set;
    if (operator === ':-') return argument!;
    throw new Error(`${name} is unset${operator === ':?' ? `: ${argument}` : ''}`);
  });
  assert.doesNotMatch(result, /\$/, `unsupported interpolation in ${value}`);
  return result;
}

interface DockerInstruction {
  instruction: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function dockerfile(): DockerInstruction[] {
  const joined = read('Dockerfile').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [, instruction, args] = /^([A-Z]+)\s+(.*)$/.exec(line) ?? assert.fail(`not a Dockerfile instruction: ${line}`);
      return { instruction: instruction!, args: args!.trim() };
    });
}

/** The exec form `["a", "b"]` of CMD, HEALTHCHECK CMD and compose health checks. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  assert.ok(Array.isArray(parsed) && parsed.every((part) => typeof part === 'string'), `not an exec-form array: ${args}`);
  return parsed as string[];
}

const run = promisify(execFile);

/** Runs a health check command (`node -e …`) and gives its exit status. */
async function exitStatusOf(command: string[], env: Record<string, string> = {}): Promise<number> {
  assert.equal(command[0], 'node', `health check runs node: ${command.join(' ')}`);
  try {
    await run(process.execPath, command.slice(1), { env: { ...process.env, ...env }, timeout: 20_000 });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

test('the Dockerfile: Node 24, no build step, not root, port 3170, health check on /health', () => {
  const instructions = dockerfile();
  const all = (name: string) => instructions.filter((entry) => entry.instruction === name);
  const froms = all('FROM');
  assert.ok(froms.length >= 1);
  for (const from of froms) assert.match(from.args, /^node:24(-slim|-alpine)?(\s+AS\s+\S+)?$/i, `FROM ${from.args}`);

  // The final stage (after the last FROM) is what runs.
  const lastFrom = instructions.lastIndexOf(froms.at(-1)!);
  const final = instructions.slice(lastFrom);
  const users = final.filter((entry) => entry.instruction === 'USER');
  assert.ok(users.length > 0, 'the final stage sets USER');
  assert.ok(!['root', '0'].includes(users.at(-1)!.args.split(':')[0]!), `USER ${users.at(-1)!.args}`);

  const env = Object.fromEntries(final.filter((entry) => entry.instruction === 'ENV').map((entry) => entry.args.split(/[=\s]+/, 2) as [string, string]));
  assert.equal(env.TOKENKEEPER_ENV, 'production');

  const exposed = final.filter((entry) => entry.instruction === 'EXPOSE').map((entry) => Number(entry.args));
  assert.deepEqual(exposed, [DEFAULT_PORT]);
  assert.equal(loadConfig({ env: { TOKENKEEPER_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` }, dotenvPath: false }).port, DEFAULT_PORT);

  const cmd = execForm(final.find((entry) => entry.instruction === 'CMD')!.args);
  assert.deepEqual(cmd, ['node', 'bin/tokenkeeper.js', 'serve']);
  // bin/ runs the TypeScript sources when they exist and it is not inside node_modules: the image
  // must therefore carry src/ (and package.json, read for the version) next to bin/.
  const copied = final.filter((entry) => entry.instruction === 'COPY' && !entry.args.startsWith('--from')).map((entry) => entry.args.split(/\s+/)[0]);
  for (const path of ['package.json', 'bin', 'src']) assert.ok(copied.includes(path), `COPY ${path}`);
  assert.ok(existsSync(new URL('src/cli/main.ts', root)));

  const healthcheck = final.find((entry) => entry.instruction === 'HEALTHCHECK');
  assert.ok(healthcheck, 'HEALTHCHECK');
  const [, checkCommand] = /\bCMD\s+(\[.*\])$/.exec(healthcheck.args) ?? assert.fail(`HEALTHCHECK ${healthcheck.args}`);
  assert.match(checkCommand!, /\/health\b/);

  const install = all('RUN').find((entry) => /\bnpm (install|ci)\b/.test(entry.args));
  assert.ok(install && /--omit=dev/.test(install.args), 'production dependencies only');
});

test('.dockerignore keeps out local state and keeps in what the image copies', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  for (const path of ['node_modules', 'data', '.git', '.env']) assert.ok(patterns.includes(path), `${path} is ignored`);
  for (const path of ['package.json', 'package-lock.json', 'bin', 'src']) assert.ok(!patterns.includes(path), `${path} is not ignored`);
});

test('docker-compose.yml: PostgreSQL, two instances that start in production, a load balancer in front', () => {
  const { services, volumes } = compose();
  assert.deepEqual(Object.keys(services).sort(), ['load-balancer', 'postgres', ...INSTANCES].sort());

  const postgres = services.postgres!;
  assert.match(postgres.image ?? '', /^postgres:17/);
  const [volume] = (postgres.volumes ?? [])[0]!.split(':');
  assert.ok(volumes && volume! in volumes, 'PostgreSQL keeps its data in a named volume');
  assert.ok(postgres.healthcheck?.test.join(' ').includes('pg_isready'));

  const shell = { TOKENKEEPER_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` };
  for (const name of INSTANCES) {
    const service = services[name]!;
    assert.ok(service.build === '.' || (typeof service.build === 'object' && service.build.context === '.'), `${name} is built from the Dockerfile`);
    assert.deepEqual(service.depends_on, { postgres: { condition: 'service_healthy' } });
    assert.equal(service.ports, undefined, `${name} is reached through the load balancer only`);

    const environment = service.environment ?? {};
    for (const variable of Object.keys(environment)) assert.ok(knownVariables.has(variable), `${name} sets ${variable}, which is not a Tokenkeeper variable`);
    assert.match(environment.DATABASE_URL ?? '', /@postgres:5432\//, 'the database is the postgres service');
    assert.match(environment.TOKENKEEPER_ENCRYPTION_KEYS ?? '', /^\$\{TOKENKEEPER_ENCRYPTION_KEYS:\?[^}]+\}$/, 'the key comes from the user, who must set it');
    assert.throws(() => interpolate(environment.TOKENKEEPER_ENCRYPTION_KEYS!, {}), /TOKENKEEPER_ENCRYPTION_KEYS is unset/);

    // What the container would see (the image's ENV, then the service's), through the real
    // configuration loader: production's requirements are met, so the instance would start.
    const resolved = Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, interpolate(String(value), shell)]));
    const config = loadConfig({ env: { TOKENKEEPER_ENV: 'production', ...resolved }, dotenvPath: false });
    assert.equal(config.env, 'production');
    assert.equal(config.databaseUrl, 'postgres://tokenkeeper:tokenkeeper@postgres:5432/tokenkeeper');
    assert.equal(config.publicUrl, `http://localhost:${DEFAULT_PORT}`);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, DEFAULT_PORT);
    // A real public URL must be https in production; the file passes the user's value through.
    assert.throws(
      () => loadConfig({ env: { TOKENKEEPER_ENV: 'production', ...resolved, TOKENKEEPER_PUBLIC_URL: interpolate(environment.TOKENKEEPER_PUBLIC_URL!, { ...shell, TOKENKEEPER_PUBLIC_URL: 'http://tokens.example.com' }) }, dotenvPath: false }),
      /TOKENKEEPER_PUBLIC_URL/,
    );

    const check = service.healthcheck?.test ?? [];
    assert.equal(check[0], 'CMD');
    assert.ok(check.join(' ').includes(`127.0.0.1:${DEFAULT_PORT}/health`), `${name} health check fetches /health`);
  }
  // The same database for both: one cluster, not two.
  assert.equal(services[INSTANCES[0]!]!.environment!.DATABASE_URL, services[INSTANCES[1]!]!.environment!.DATABASE_URL);

  const balancer = services['load-balancer']!;
  assert.match(balancer.image ?? '', /^nginx:/);
  assert.deepEqual(balancer.ports, [`${DEFAULT_PORT}:${DEFAULT_PORT}`]);
  assert.deepEqual(balancer.depends_on, Object.fromEntries(INSTANCES.map((name) => [name, { condition: 'service_healthy' }])));
  const mounted = (balancer.volumes ?? []).find((entry) => entry.includes('/etc/nginx/nginx.conf'));
  const [source] = (mounted ?? assert.fail('nginx.conf is mounted')).split(':');
  const nginx = read(source!.replace(/^\.\//, ''));
  const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(nginx) ?? assert.fail('an upstream block');
  const servers = [...upstream[2]!.matchAll(/^\s*server\s+([^\s;]+)/gm)].map((match) => match[1]);
  assert.deepEqual(servers, INSTANCES.map((name) => `${name}:${DEFAULT_PORT}`));
  assert.match(nginx, new RegExp(`listen\\s+${DEFAULT_PORT};`));
  assert.match(nginx, new RegExp(`proxy_pass\\s+http://${upstream[1]};`));
  assert.match(nginx, /proxy_set_header\s+Host\s+\$http_host;/, 'the web page checks Host: nginx must pass it on');
});

for (const dialect of testDialects()) {
  test(`the health check commands report a healthy instance healthy and one without storage unhealthy (${dialect})`, async () => {
    const { services } = compose();
    const fromCompose = services[INSTANCES[0]!]!.healthcheck!.test.slice(1);
    const healthcheck = dockerfile().find((entry) => entry.instruction === 'HEALTHCHECK')!;
    const fromDockerfile = execForm(/\bCMD\s+(\[.*\])$/.exec(healthcheck.args)![1]!);

    const h = await startHarness({ dialect });
    try {
      await h.http.app.listen({ port: 0, host: '127.0.0.1' });
      const port = String((h.http.app.server.address() as { port: number }).port);
      const atPort = (command: string[]) => command.map((part) => part.replace(`:${DEFAULT_PORT}/`, `:${port}/`));
      assert.equal(await exitStatusOf(atPort(fromCompose)), 0);
      assert.equal(await exitStatusOf(fromDockerfile, { TOKENKEEPER_PORT: port }), 0);
      await h.tk.database.close();
      assert.equal(await exitStatusOf(atPort(fromCompose)), 1);
      assert.equal(await exitStatusOf(fromDockerfile, { TOKENKEEPER_PORT: port }), 1);
    } finally {
      await h.close();
    }
  });
}

test('docs/deploy.md is linked from the README and explains every variable the compose file sets', () => {
  assert.match(read('README.md'), /\]\(docs\/deploy\.md\)/);
  const doc = read('docs/deploy.md');
  const { services } = compose();
  const names = new Set(Object.values(services).flatMap((service) => Object.keys(service.environment ?? {})));
  assert.ok(names.size > 0);
  for (const name of names) assert.ok(doc.includes(`\`${name}\``), `docs/deploy.md mentions ${name}`);
  for (const file of ['Dockerfile', 'docker-compose.yml', 'deploy/nginx.conf']) assert.ok(doc.includes(`\`${file}\``), `docs/deploy.md mentions ${file}`);
  // Every TOKENKEEPER_* name the page mentions is a real variable (a typo in the docs becomes a typo in a deployment).
  for (const [name] of doc.matchAll(/\bTOKENKEEPER_[A-Z_]+\b/g)) assert.ok(knownVariables.has(name), `docs/deploy.md mentions ${name}, which is not a variable`);
});
