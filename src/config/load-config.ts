import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GENERATE_KEY_HINT, KeyRing } from '../crypto/index.ts';
import { readActionsConfig } from './actions-config.ts';
import { readAlertChannels } from './alert-channels-config.ts';
import { readAlertRules } from './alert-rules-config.ts';
import { readAppWebhooks } from './app-webhook-config.ts';
import { readProxyConfig } from './proxy-config.ts';
import type { Config } from './config.ts';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { configVariables, VARIABLE_PREFIX } from './config-variables.ts';
import { deepFreeze } from './deep-freeze.ts';
import { readDotenvText } from './parse-dotenv.ts';
import { sanitizeValue } from './sanitize-value.ts';
import { suggestName } from './suggest-name.ts';
import { VariableReader, type VariableSource } from './variable-reader.ts';

export interface LoadConfigOptions {
  /** The variables to read. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Base for relative paths (`.env`, the data dir). Default `process.cwd()`. */
  cwd?: string;
  /**
   * The `.env` file, relative to `cwd`. Default `.env`, read only if it exists; a path given
   * here must exist. `false` reads no file. Real environment variables override the file.
   */
  dotenvPath?: string | false;
}

const KNOWN_NAMES = configVariables.map((variable) => variable.name);
const KNOWN = new Set(KNOWN_NAMES);
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MIN_DASHBOARD_PASSWORD_LENGTH = 12;
const HOST_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;
/** RFC 6750 §2.1 `b64token`: what can follow `Bearer ` in an Authorization header. */
const BEARER_TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads, sanitizes and validates the configuration, once, at start-up. Every problem is collected
 * and thrown together as a `ConfigError`; a wrong value never falls back to a default. The
 * result is deeply frozen. This is the only place in Tokenkeeper that reads `process.env`.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const problems: ConfigProblem[] = [];
  const malformed = new Map<string, string>();
  const values = collectValues(options.env ?? process.env, cwd, options.dotenvPath, problems, malformed);
  const read = new VariableReader(values, new Set(malformed.keys()));

  const explicitEnv = read.string('TOKENKEEPER_ENV');
  const env = read.oneOf('TOKENKEEPER_ENV', ['development', 'production'] as const, 'development');
  const production = env === 'production';
  // NODE_ENV=production with TOKENKEEPER_ENV unset would otherwise quietly run a production
  // deployment in development mode: generated key, sandbox on, no https check.
  if (explicitEnv === null && values.get('NODE_ENV')?.value.toLowerCase() === 'production') {
    read.fail(
      'TOKENKEEPER_ENV',
      'is unset while NODE_ENV is production; set TOKENKEEPER_ENV=production (or TOKENKEEPER_ENV=development if this really is a development machine)',
    );
  }

  const port = read.port('TOKENKEEPER_PORT', 3170);
  const host = readHost(read, production ? '0.0.0.0' : '127.0.0.1');
  const publicUrl = readPublicUrl(read, port, production);
  const dataDir = resolve(cwd, read.string('TOKENKEEPER_DATA_DIR') ?? './data');
  const databaseUrl = readDatabaseUrl(read);
  const database = {
    poolSize: read.integer('TOKENKEEPER_DB_POOL_SIZE', 10, { min: 1, max: 200, unit: 'connections' }),
    statementTimeoutMs: read.integer('TOKENKEEPER_DB_STATEMENT_TIMEOUT_MS', 30_000, { min: 100, max: 3_600_000, unit: 'milliseconds' }),
    connectTimeoutMs: read.integer('TOKENKEEPER_DB_CONNECT_TIMEOUT_MS', 5_000, { min: 100, max: 300_000, unit: 'milliseconds' }),
  };

  const encryptionKeys = read.string('TOKENKEEPER_ENCRYPTION_KEYS');
  if (encryptionKeys !== null) {
    try {
      KeyRing.parse(encryptionKeys);
    } catch (error) {
      read.fail('TOKENKEEPER_ENCRYPTION_KEYS', (error as Error).message);
    }
  } else if (production) {
    read.fail(
      'TOKENKEEPER_ENCRYPTION_KEYS',
      `is required in production (tokens and client secrets are encrypted with it); ${GENERATE_KEY_HINT}`,
    );
  }

  const cronSecret = readBearerSecret(read, 'TOKENKEEPER_CRON_SECRET');
  const metricsToken = readBearerSecret(read, 'TOKENKEEPER_METRICS_TOKEN');

  const logLevel = read.oneOf('TOKENKEEPER_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info');
  const logFormat = read.oneOf('TOKENKEEPER_LOG_FORMAT', ['json', 'pretty'] as const, production ? 'json' : 'pretty');

  const sweepIntervalSeconds = read.integer('TOKENKEEPER_SWEEP_INTERVAL', 60, { min: 0, max: 86_400, unit: 'seconds' });
  if (sweepIntervalSeconds > 0 && sweepIntervalSeconds < 5) {
    read.fail('TOKENKEEPER_SWEEP_INTERVAL', `${sweepIntervalSeconds} is too short; use 5 seconds or more, or 0 for no sweep on this instance`);
  }
  const scheduler = read.oneOf('TOKENKEEPER_SCHEDULER', ['on', 'off'] as const, 'on');
  const refreshBufferSeconds = read.integer('TOKENKEEPER_REFRESH_BUFFER', 300, { min: 0, max: 86_400, unit: 'seconds' });
  const refreshTimeoutMs = read.integer('TOKENKEEPER_REFRESH_TIMEOUT_MS', 10_000, { min: 100, max: 300_000, unit: 'milliseconds' });
  const leaseMs = read.integer('TOKENKEEPER_LEASE_MS', 30_000, { min: 1_000, max: 3_600_000, unit: 'milliseconds' });
  const maxCooldownSeconds = read.integer('TOKENKEEPER_MAX_COOLDOWN', 3_600, { min: 1, max: 86_400, unit: 'seconds' });
  if (leaseMs <= refreshTimeoutMs && !hasProblem(read, 'TOKENKEEPER_LEASE_MS', 'TOKENKEEPER_REFRESH_TIMEOUT_MS')) {
    // A lease that can run out while its holder is still waiting on the token endpoint lets a
    // second process refresh with the same refresh token: with rotation, one of them loses.
    read.fail(
      read.has('TOKENKEEPER_LEASE_MS') ? 'TOKENKEEPER_LEASE_MS' : 'TOKENKEEPER_REFRESH_TIMEOUT_MS',
      `the lease (${leaseMs} ms) must be longer than TOKENKEEPER_REFRESH_TIMEOUT_MS (${refreshTimeoutMs} ms), so a refresh has ended before another process may take over; raise TOKENKEEPER_LEASE_MS or lower TOKENKEEPER_REFRESH_TIMEOUT_MS`,
    );
  }

  const dashboardPassword = read.string('TOKENKEEPER_DASHBOARD_PASSWORD');
  if (dashboardPassword !== null && dashboardPassword.length < MIN_DASHBOARD_PASSWORD_LENGTH) {
    // The page is reachable by anyone who can reach the service; a short password falls to
    // guessing even at the page's throttled rate.
    read.fail('TOKENKEEPER_DASHBOARD_PASSWORD', `is ${dashboardPassword.length} characters long; use at least ${MIN_DASHBOARD_PASSWORD_LENGTH}, e.g. four random words`);
  }
  const allowedRedirectOrigins = readAllowedRedirectOrigins(read);

  const sandboxEnabled = read.boolean('TOKENKEEPER_SANDBOX', !production);
  const sandboxPort = read.port('TOKENKEEPER_SANDBOX_PORT', 3171);
  if (sandboxEnabled && sandboxPort === port && !hasProblem(read, 'TOKENKEEPER_PORT', 'TOKENKEEPER_SANDBOX_PORT')) {
    read.fail('TOKENKEEPER_SANDBOX_PORT', `${sandboxPort} is also TOKENKEEPER_PORT; the sandbox provider needs a port of its own`);
  }
  const accessTokenTtlSeconds = read.integer('TOKENKEEPER_SANDBOX_TOKEN_TTL', 120, { min: 5, max: 86_400, unit: 'seconds' });

  const maxBodyBytes = read.integer('TOKENKEEPER_MAX_BODY_BYTES', 65_536, { min: 1_024, max: 104_857_600, unit: 'bytes' });
  const alertPolicy = {
    groupWaitSeconds: read.duration('TOKENKEEPER_ALERT_GROUP_WAIT', 30, { min: 0, max: 86_400 }),
    groupIntervalSeconds: read.duration('TOKENKEEPER_ALERT_GROUP_INTERVAL', 300, { min: 1, max: 86_400 }),
    repeatIntervalSeconds: read.duration('TOKENKEEPER_ALERT_REPEAT_INTERVAL', 21_600, { min: 60, max: 30 * 86_400 }),
    escalateAfterSeconds: read.duration('TOKENKEEPER_ALERT_ESCALATE_AFTER', 43_200, { min: 60, max: 30 * 86_400 }),
  };
  const alertChannels = readAlertChannels(read, production);
  const appWebhooks = readAppWebhooks(read);
  const actions = readActionsConfig(read, cwd);
  const proxy = readProxyConfig(read);
  const alertRules = readAlertRules(read, sweepIntervalSeconds);
  const stuck = {
    connectSessionAfterSeconds: read.duration('TOKENKEEPER_STUCK_CONNECT_SESSION_AFTER', 1_800, { min: 60, max: 30 * 86_400 }),
    degradedAfterSeconds: read.duration('TOKENKEEPER_STUCK_DEGRADED_AFTER', 3_600, { min: 60, max: 30 * 86_400 }),
    needsReauthAfterSeconds: read.duration('TOKENKEEPER_STUCK_NEEDS_REAUTH_AFTER', 86_400, { min: 60, max: 30 * 86_400 }),
  };

  problems.push(...read.problems);
  const files = [...values].map(([name, source]) => [name, source.file] as const);
  for (const [name, file] of [...files, ...malformed]) {
    if (!name.toUpperCase().startsWith(VARIABLE_PREFIX) || KNOWN.has(name)) continue;
    const suggestion = suggestName(name, KNOWN_NAMES);
    problems.push({
      variable: name,
      message:
        (suggestion ? `is not a Tokenkeeper variable; did you mean ${suggestion}?` : 'is not a Tokenkeeper variable; the known ones are listed in docs/configuration.md') +
        (file ? ` (set in ${file})` : ''),
    });
  }

  if (problems.length > 0) throw new ConfigError(problems);

  return deepFreeze<Config>({
    env,
    port,
    host,
    publicUrl,
    callbackUrl: `${publicUrl}/oauth/callback`,
    dataDir,
    databasePath: join(dataDir, 'tokenkeeper.db'),
    databaseUrl,
    database,
    encryptionKeys,
    cronSecret,
    metricsToken,
    logLevel,
    logFormat,
    sweepIntervalSeconds,
    scheduler,
    refreshBufferSeconds,
    refreshTimeoutMs,
    leaseMs,
    maxCooldownSeconds,
    dashboardPassword,
    allowedRedirectOrigins,
    sandbox: { enabled: sandboxEnabled, port: sandboxPort, accessTokenTtlSeconds },
    maxBodyBytes,
    alertPolicy,
    alertRules,
    alertChannels,
    appWebhooks,
    actions,
    proxy,
    stuck,
  });
}

/**
 * Merges the `.env` file and the environment, sanitizing every value; an empty value counts as
 * unset, so `TOKENKEEPER_PORT=` in the environment does not hide the file's value. Variables whose
 * `.env` line is malformed (and that the environment does not set) go to `malformed`, with the file.
 */
function collectValues(
  env: Record<string, string | undefined>,
  cwd: string,
  dotenvPath: string | false | undefined,
  problems: ConfigProblem[],
  malformed: Map<string, string>,
): Map<string, VariableSource> {
  const values = new Map<string, VariableSource>();
  if (dotenvPath !== false) {
    const file = resolve(cwd, dotenvPath ?? '.env');
    const contents = readDotenv(file, dotenvPath !== undefined, problems);
    for (const [name, raw] of Object.entries(contents.values)) {
      const value = sanitizeValue(raw);
      if (value !== '') values.set(name, { value, file });
    }
    for (const name of contents.malformed) malformed.set(name, file);
  }
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const value = sanitizeValue(raw);
    if (value !== '') {
      values.set(name, { value, file: null });
      malformed.delete(name);
    }
  }
  return values;
}

/** The file's readable lines, its problems recorded in `problems`; nothing if it is absent and optional. */
function readDotenv(file: string, required: boolean, problems: ConfigProblem[]): { values: Record<string, string>; malformed: Set<string> } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return { values: {}, malformed: new Set() };
    problems.push({
      variable: file,
      message: code === 'ENOENT' ? 'the .env file does not exist' : `the .env file cannot be read (${code ?? (error as Error).message})`,
    });
    return { values: {}, malformed: new Set() };
  }
  const contents = readDotenvText(text, file);
  problems.push(...contents.problems);
  return contents;
}

function readHost(read: VariableReader, fallback: string): string {
  const value = read.string('TOKENKEEPER_HOST');
  if (value === null) return fallback;
  const host = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (!HOST_PATTERN.test(host)) {
    read.fail('TOKENKEEPER_HOST', `${read.shown('TOKENKEEPER_HOST')} is not a hostname or IP address to listen on; use 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)`);
    return fallback;
  }
  return host;
}

function readPublicUrl(read: VariableReader, port: number, production: boolean): string {
  const name = 'TOKENKEEPER_PUBLIC_URL';
  const value = read.string(name);
  if (value === null) {
    if (production) {
      read.fail(name, 'is required in production: it is where browsers and providers reach Tokenkeeper and the OAuth callback URL is built from it, e.g. https://tokens.example.com');
    }
    return `http://localhost:${port}`;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    read.fail(name, `${read.shown(name)} is not an absolute URL; use e.g. https://tokens.example.com`);
    return `http://localhost:${port}`;
  }
  const fallback = `http://localhost:${port}`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    read.fail(name, `${read.shown(name)} must start with https:// (or http:// for local use)`);
    return fallback;
  }
  if (url.username !== '' || url.password !== '') {
    read.fail(name, 'must not contain a user name or password');
    return fallback;
  }
  if (url.search !== '' || url.hash !== '') {
    read.fail(name, `${read.shown(name)} must not have a query or fragment; the callback path is appended to it`);
    return fallback;
  }
  if (production && url.protocol !== 'https:' && !LOCAL_HOSTS.has(url.hostname)) {
    read.fail(name, `${read.shown(name)} must use https in production (OAuth codes and tokens cross it; RFC 6749 §3.1.2.1); http is only allowed for localhost`);
    return fallback;
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Origins the connect flow may return the browser to. Each entry must be exactly an origin
 * (RFC 6454 §4: scheme, host, port), parsed the way browsers parse URLs (WHATWG URL) so that the
 * comparison in the connect flow is between the same normalised strings. A trailing `/` is
 * tolerated (it is what copying an origin from the address bar gives); a path is not, because
 * it would suggest a narrower rule than the origin check applies.
 */
function readAllowedRedirectOrigins(read: VariableReader): string[] {
  const name = 'TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS';
  const value = read.string(name);
  if (value === null) return [];
  const origins: string[] = [];
  for (const raw of value.split(',').map((entry) => entry.trim())) {
    const problem = originProblem(raw);
    if (problem !== null) {
      read.fail(name, `${JSON.stringify(raw.slice(0, 80))} ${problem}; list origins such as https://app.example.com, separated by commas`);
      continue;
    }
    const origin = new URL(raw).origin;
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}

function originProblem(entry: string): string | null {
  if (entry === '') return 'is an empty entry';
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return 'is not an origin (scheme://host[:port])';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'is not an http or https origin';
  if (!/^https?:\/\//i.test(entry)) return 'is not an origin (scheme://host[:port])';
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password';
  if (url.search !== '' || entry.includes('?')) return 'must not have a query';
  if (url.hash !== '' || entry.includes('#')) return 'must not have a fragment';
  if (url.pathname !== '/') return `has a path (${url.pathname}); give only scheme://host[:port]`;
  return null;
}

function readDatabaseUrl(read: VariableReader): string | null {
  const value = read.string('DATABASE_URL');
  if (value === null) return null;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(value)?.[1]?.toLowerCase();
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    read.fail(
      'DATABASE_URL',
      `${scheme ? `has the scheme "${scheme}:"` : 'is not a URL'}; only PostgreSQL is supported (postgres://user:password@host:5432/database). Unset it to use SQLite in TOKENKEEPER_DATA_DIR`,
    );
    return null;
  }
  try {
    new URL(value);
  } catch {
    read.fail('DATABASE_URL', 'is not a valid URL; expected postgres://user:password@host:5432/database (percent-encode special characters in the password)');
    return null;
  }
  return value;
}

/**
 * A secret that callers send as `Authorization: Bearer <secret>` (the cron secret, the metrics
 * token): at least 16 characters, all of them allowed in a Bearer token.
 */
function readBearerSecret(read: VariableReader, name: string): string | null {
  const secret = read.string(name);
  if (secret !== null && secret.length < 16) {
    read.fail(name, `is ${secret.length} characters long; use at least 16, e.g. \`node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))"\``);
    return null;
  }
  if (secret !== null && !BEARER_TOKEN_PATTERN.test(secret)) {
    // A secret with a space (or a comma, a quote, a non-ASCII letter) would load fine and then
    // never match any `Authorization: Bearer` header, so every call would fail with 401.
    read.fail(name, 'cannot be sent as a Bearer token: use only letters, digits and - . _ ~ + /, optionally ending in = (RFC 6750 §2.1), e.g. a base64url string');
    return null;
  }
  return secret;
}

function hasProblem(read: VariableReader, ...names: string[]): boolean {
  return names.some((name) => read.hasProblem(name));
}
