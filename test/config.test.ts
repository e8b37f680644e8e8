import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, configVariables, loadConfig, parseDotenv, sanitizeValue, type Config } from '../src/config/index.ts';
import { KeyRing } from '../src/crypto/index.ts';

const KEY_SPEC = 'k1:q5nqXZQ3mI2lq0Ddq3XyvGqCgk0mQ9fW9yW3oXlD6dE=';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-config-'));
  tempDirs.push(dir);
  return dir;
}

/** Loads with only the given variables: no real environment, no `.env` unless asked. */
function load(env: Record<string, string | undefined>, options: { cwd?: string; dotenvPath?: string | false } = {}): Readonly<Config> {
  return loadConfig({ env, cwd: options.cwd ?? tempDir(), dotenvPath: options.dotenvPath ?? false });
}

function problemsOf(env: Record<string, string | undefined>, options: { cwd?: string; dotenvPath?: string | false } = {}): ConfigError {
  try {
    load(env, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected loadConfig to throw a ConfigError');
}

const PRODUCTION = {
  TOKENKEEPER_ENV: 'production',
  TOKENKEEPER_ENCRYPTION_KEYS: KEY_SPEC,
  TOKENKEEPER_PUBLIC_URL: 'https://tokens.example.com',
};

test('development defaults', () => {
  const cwd = tempDir();
  const config = load({}, { cwd });
  assert.deepEqual(config, {
    env: 'development',
    port: 3170,
    host: '127.0.0.1',
    publicUrl: 'http://localhost:3170',
    callbackUrl: 'http://localhost:3170/oauth/callback',
    dataDir: join(cwd, 'data'),
    databasePath: join(cwd, 'data', 'tokenkeeper.db'),
    databaseUrl: null,
    database: { poolSize: 10, statementTimeoutMs: 30000, connectTimeoutMs: 5000 },
    encryptionKeys: null,
    cronSecret: null,
    metricsToken: null,
    logLevel: 'info',
    logFormat: 'pretty',
    sweepIntervalSeconds: 60,
    scheduler: 'on',
    refreshBufferSeconds: 300,
    refreshTimeoutMs: 10000,
    leaseMs: 30000,
    maxCooldownSeconds: 3600,
    dashboardPassword: null,
    allowedRedirectOrigins: [],
    sandbox: { enabled: true, port: 3171, accessTokenTtlSeconds: 120 },
    maxBodyBytes: 65536,
    alertPolicy: { groupWaitSeconds: 30, groupIntervalSeconds: 300, repeatIntervalSeconds: 21600, escalateAfterSeconds: 43200 },
    alertRules: {
      intervalSeconds: 30,
      refreshFailingAfterSeconds: 900,
      tokenExpiredGraceSeconds: 60,
      errorRatePercent: 50,
      errorRateWindowSeconds: 900,
      errorRateMinRefreshes: 20,
      sweepStalledAfterSeconds: 180,
      cacheHitRatePercent: 70,
      cacheHitRateWindowSeconds: 900,
      cacheHitRateMinRequests: 100,
    },
    alertChannels: { timeoutMs: 10000, console: { minSeverity: 'LOW' }, webhook: null, slack: null, email: null, sms: null, pagerduty: null },
    appWebhooks: { endpoint: null, timeoutMs: 10000 },
    proxy: { timeoutMs: 30000, maxResponseBytes: 52428800, maxRetries: 2, maxRetryWaitSeconds: 10 },
    actions: { dir: null, disabled: [] },
    stuck: { connectSessionAfterSeconds: 1800, degradedAfterSeconds: 3600, needsReauthAfterSeconds: 86400 },
  });
});

test('production defaults differ where a deployment needs them to', () => {
  const config = load(PRODUCTION);
  assert.equal(config.env, 'production');
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.logFormat, 'json');
  assert.equal(config.sandbox.enabled, false);
  assert.equal(config.callbackUrl, 'https://tokens.example.com/oauth/callback');
});

test('every variable is parsed', () => {
  const cwd = tempDir();
  const config = load(
    {
      TOKENKEEPER_ENV: 'production',
      TOKENKEEPER_PORT: '8080',
      TOKENKEEPER_HOST: '10.0.0.5',
      TOKENKEEPER_PUBLIC_URL: 'https://example.com/tokens/',
      TOKENKEEPER_DATA_DIR: 'var/tk',
      DATABASE_URL: 'postgresql://tk:p%40ss@db.internal:5432/tokenkeeper',
      TOKENKEEPER_DB_POOL_SIZE: '25',
      TOKENKEEPER_DB_STATEMENT_TIMEOUT_MS: '15000',
      TOKENKEEPER_DB_CONNECT_TIMEOUT_MS: '2000',
      TOKENKEEPER_ENCRYPTION_KEYS: `k2:${Buffer.alloc(32, 7).toString('base64url')},${KEY_SPEC}`,
      TOKENKEEPER_CRON_SECRET: 'cron-secret-0123456789',
      TOKENKEEPER_METRICS_TOKEN: 'metrics-token-0123456789',
      TOKENKEEPER_LOG_LEVEL: 'debug',
      TOKENKEEPER_LOG_FORMAT: 'pretty',
      TOKENKEEPER_SWEEP_INTERVAL: '0',
      TOKENKEEPER_SCHEDULER: 'off',
      TOKENKEEPER_REFRESH_BUFFER: '600',
      TOKENKEEPER_REFRESH_TIMEOUT_MS: '5000',
      TOKENKEEPER_LEASE_MS: '20000',
      TOKENKEEPER_MAX_COOLDOWN: '600',
      TOKENKEEPER_DASHBOARD_PASSWORD: 'correct horse battery staple',
      TOKENKEEPER_ALLOWED_REDIRECT_ORIGINS: 'https://app.example.com,http://localhost:5173',
      TOKENKEEPER_SANDBOX: 'on',
      TOKENKEEPER_SANDBOX_PORT: '9090',
      TOKENKEEPER_SANDBOX_TOKEN_TTL: '30',
      TOKENKEEPER_MAX_BODY_BYTES: '1048576',
      TOKENKEEPER_ALERT_GROUP_WAIT: '10s',
      TOKENKEEPER_ALERT_GROUP_INTERVAL: '2m',
      TOKENKEEPER_ALERT_REPEAT_INTERVAL: '1d',
      TOKENKEEPER_ALERT_ESCALATE_AFTER: '7200',
      // The rule thresholds in detail: test/alert-rules-config.test.ts.
      TOKENKEEPER_ALERT_RULES_INTERVAL: '1m',
      TOKENKEEPER_ALERT_REFRESH_FAILING_AFTER: '30m',
      TOKENKEEPER_ALERT_TOKEN_EXPIRED_GRACE: '0',
      TOKENKEEPER_ALERT_ERROR_RATE: '25',
      TOKENKEEPER_ALERT_ERROR_RATE_WINDOW: '5m',
      TOKENKEEPER_ALERT_ERROR_RATE_MIN_REFRESHES: '10',
      TOKENKEEPER_ALERT_SWEEP_STALLED_AFTER: '10m',
      TOKENKEEPER_ALERT_CACHE_HIT_RATE: '0',
      TOKENKEEPER_ALERT_CACHE_HIT_RATE_WINDOW: '1h',
      TOKENKEEPER_ALERT_CACHE_HIT_RATE_MIN_REQUESTS: '500',
      // The channel variables in detail: test/alert-channels-config.test.ts.
      TOKENKEEPER_ALERT_CHANNEL_TIMEOUT_MS: '3000',
      TOKENKEEPER_ALERT_CONSOLE_MIN_SEVERITY: 'medium',
      TOKENKEEPER_ALERT_WEBHOOK_URL: 'https://ops.example.com/hook',
      TOKENKEEPER_ALERT_WEBHOOK_SECRET: `whsec_${Buffer.alloc(24, 1).toString('base64')}`,
      TOKENKEEPER_ALERT_WEBHOOK_MIN_SEVERITY: 'low',
      TOKENKEEPER_ALERT_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/X',
      TOKENKEEPER_ALERT_SLACK_MIN_SEVERITY: 'medium',
      TOKENKEEPER_SMTP_URL: 'smtps://u:p@smtp.example.com:2465',
      TOKENKEEPER_ALERT_EMAIL_FROM: 'alerts@example.com',
      TOKENKEEPER_ALERT_EMAIL_TO: 'ops@example.com',
      TOKENKEEPER_ALERT_EMAIL_MIN_SEVERITY: 'high',
      TOKENKEEPER_TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TOKENKEEPER_TWILIO_AUTH_TOKEN: 'b'.repeat(32),
      TOKENKEEPER_TWILIO_FROM: '+15005550006',
      TOKENKEEPER_TWILIO_API_URL: 'https://twilio-proxy.example.com',
      TOKENKEEPER_ALERT_SMS_TO: '+447700900123',
      TOKENKEEPER_ALERT_SMS_MIN_SEVERITY: 'medium',
      TOKENKEEPER_PAGERDUTY_ROUTING_KEY: 'c'.repeat(32),
      TOKENKEEPER_PAGERDUTY_API_URL: 'https://events.eu.pagerduty.com',
      TOKENKEEPER_ALERT_PAGERDUTY_MIN_SEVERITY: 'medium',
      // The application webhook variables in detail: test/app-webhooks.test.ts.
      TOKENKEEPER_APP_WEBHOOK_URL: 'https://app.example.com/hooks/tokenkeeper',
      TOKENKEEPER_APP_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 2).toString('base64')}`,
      TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS: '4000',
      TOKENKEEPER_PROXY_TIMEOUT_MS: '15000',
      TOKENKEEPER_PROXY_MAX_RESPONSE_BYTES: '1048576',
      TOKENKEEPER_PROXY_MAX_RETRIES: '0',
      TOKENKEEPER_PROXY_MAX_RETRY_WAIT: '1m',
      // The actions variables in detail: test/actions-registry.test.ts.
      TOKENKEEPER_ACTIONS_DIR: '.',
      TOKENKEEPER_ACTIONS_DISABLED: 'google.gmail.send,slack.chat.post_message',
      TOKENKEEPER_STUCK_CONNECT_SESSION_AFTER: '45m',
      TOKENKEEPER_STUCK_DEGRADED_AFTER: '2h',
      TOKENKEEPER_STUCK_NEEDS_REAUTH_AFTER: '3d',
    },
    { cwd },
  );
  assert.deepEqual(config, {
    env: 'production',
    port: 8080,
    host: '10.0.0.5',
    publicUrl: 'https://example.com/tokens',
    callbackUrl: 'https://example.com/tokens/oauth/callback',
    dataDir: join(cwd, 'var', 'tk'),
    databasePath: join(cwd, 'var', 'tk', 'tokenkeeper.db'),
    databaseUrl: 'postgresql://tk:p%40ss@db.internal:5432/tokenkeeper',
    database: { poolSize: 25, statementTimeoutMs: 15000, connectTimeoutMs: 2000 },
    encryptionKeys: `k2:${Buffer.alloc(32, 7).toString('base64url')},${KEY_SPEC}`,
    cronSecret: 'cron-secret-0123456789',
    metricsToken: 'metrics-token-0123456789',
    logLevel: 'debug',
    logFormat: 'pretty',
    sweepIntervalSeconds: 0,
    scheduler: 'off',
    refreshBufferSeconds: 600,
    refreshTimeoutMs: 5000,
    leaseMs: 20000,
    maxCooldownSeconds: 600,
    dashboardPassword: 'correct horse battery staple',
    allowedRedirectOrigins: ['https://app.example.com', 'http://localhost:5173'],
    sandbox: { enabled: true, port: 9090, accessTokenTtlSeconds: 30 },
    maxBodyBytes: 1048576,
    alertPolicy: { groupWaitSeconds: 10, groupIntervalSeconds: 120, repeatIntervalSeconds: 86400, escalateAfterSeconds: 7200 },
    alertRules: {
      intervalSeconds: 60,
      refreshFailingAfterSeconds: 1800,
      tokenExpiredGraceSeconds: 0,
      errorRatePercent: 25,
      errorRateWindowSeconds: 300,
      errorRateMinRefreshes: 10,
      sweepStalledAfterSeconds: 600,
      cacheHitRatePercent: 0,
      cacheHitRateWindowSeconds: 3600,
      cacheHitRateMinRequests: 500,
    },
    alertChannels: {
      timeoutMs: 3000,
      console: { minSeverity: 'MEDIUM' },
      webhook: { url: 'https://ops.example.com/hook', secret: `whsec_${Buffer.alloc(24, 1).toString('base64')}`, minSeverity: 'LOW' },
      slack: { webhookUrl: 'https://hooks.slack.com/services/T/B/X', minSeverity: 'MEDIUM' },
      email: { smtp: { host: 'smtp.example.com', port: 2465, secure: true, username: 'u', password: 'p' }, from: 'alerts@example.com', to: ['ops@example.com'], minSeverity: 'HIGH' },
      sms: { accountSid: `AC${'a'.repeat(32)}`, authToken: 'b'.repeat(32), from: '+15005550006', to: ['+447700900123'], apiUrl: 'https://twilio-proxy.example.com', minSeverity: 'MEDIUM' },
      pagerduty: { routingKey: 'c'.repeat(32), apiUrl: 'https://events.eu.pagerduty.com', minSeverity: 'MEDIUM' },
    },
    appWebhooks: { endpoint: { url: 'https://app.example.com/hooks/tokenkeeper', secret: `whsec_${Buffer.alloc(32, 2).toString('base64')}` }, timeoutMs: 4000 },
    proxy: { timeoutMs: 15000, maxResponseBytes: 1048576, maxRetries: 0, maxRetryWaitSeconds: 60 },
    actions: { dir: cwd, disabled: ['google.gmail.send', 'slack.chat.post_message'] },
    stuck: { connectSessionAfterSeconds: 2700, degradedAfterSeconds: 7200, needsReauthAfterSeconds: 259200 },
  });
});

test('booleans, enums and absolute paths in their accepted spellings', () => {
  for (const [raw, enabled] of [['true', true], ['1', true], ['ON', true], ['false', false], ['0', false], ['off', false]] as const) {
    assert.equal(load({ TOKENKEEPER_SANDBOX: raw }).sandbox.enabled, enabled, raw);
  }
  assert.equal(load({ TOKENKEEPER_ENV: 'Production', TOKENKEEPER_ENCRYPTION_KEYS: KEY_SPEC, TOKENKEEPER_PUBLIC_URL: 'https://x.example' }).env, 'production');
  const absolute = join(tempDir(), 'elsewhere');
  assert.equal(load({ TOKENKEEPER_DATA_DIR: absolute }).dataDir, absolute);
  assert.equal(load({ TOKENKEEPER_PORT: '4000' }).publicUrl, 'http://localhost:4000', 'the default public URL follows the port');
  assert.equal(load({ TOKENKEEPER_HOST: '[::]' }).host, '::');
});

test('sanitizeValue strips the wrapping that copy-paste adds, and only that', () => {
  const cases: [string, string][] = [
    ['abc', 'abc'],
    ['  abc  ', 'abc'],
    ['abc\n', 'abc'],
    ['abc\r\n', 'abc'],
    ['"abc"', 'abc'],
    ["'abc'", 'abc'],
    [`"'abc'"\n`, 'abc'],
    ['"\'abc\'\n"', 'abc'],
    [`" 'abc' "`, 'abc'],
    ['"abc', 'abc'],
    ["abc'", 'abc'],
    ['\u200Babc\uFEFF', 'abc'],
    ['it\'s "quoted" inside', 'it\'s "quoted" inside'],
    ['""', ''],
    ['   ', ''],
    ["'", ''],
  ];
  for (const [raw, expected] of cases) assert.equal(sanitizeValue(raw), expected, JSON.stringify(raw));
});

test('a realistic secret pasted with quotes, a stray quote and a trailing newline still works', () => {
  const cronSecret = 'Zx9-vQ2_mLk8RtY4pWs7';
  const config = load({
    // What a dashboard that keeps quotes literally, plus `echo "$KEY" > file`, produces:
    TOKENKEEPER_ENCRYPTION_KEYS: `"'${KEY_SPEC}'"\n`,
    // A stray quote left at the end of a paste:
    TOKENKEEPER_CRON_SECRET: ` ${cronSecret}"\r\n`,
    TOKENKEEPER_PUBLIC_URL: "'https://tokens.example.com/'\n",
  });
  assert.equal(config.encryptionKeys, KEY_SPEC);
  assert.equal(KeyRing.parse(config.encryptionKeys!).primaryKeyId, 'k1');
  assert.equal(config.cronSecret, cronSecret);
  assert.equal(config.publicUrl, 'https://tokens.example.com');
});

test('an empty value (after sanitizing) counts as unset', () => {
  const config = load({ TOKENKEEPER_PORT: '  ', TOKENKEEPER_CRON_SECRET: '""', TOKENKEEPER_LOG_LEVEL: '\n' });
  assert.equal(config.port, 3170);
  assert.equal(config.cronSecret, null);
  assert.equal(config.logLevel, 'info');
});

test('parseDotenv reads the usual .env syntax', () => {
  const text = [
    '\uFEFF# a comment',
    '',
    'PLAIN=value',
    'export EXPORTED=yes',
    '  SPACED  =  padded value  ',
    "SINGLE='literal \\n $HOME # not a comment'",
    'DOUBLE="line one\\nline two \\"quoted\\" \\$HOME"',
    'HASH=abc#def',
    'COMMENTED=value # trailing comment',
    'DOUBLE_COMMENTED="v" # trailing comment',
    'EMPTY=',
    'PEM="-----BEGIN KEY-----',
    'MIIBVgIBADANBg',
    '-----END KEY-----"',
    'WINDOWS=crlf\r',
  ].join('\n');
  assert.deepEqual(parseDotenv(text), {
    PLAIN: 'value',
    EXPORTED: 'yes',
    SPACED: 'padded value',
    SINGLE: 'literal \\n $HOME # not a comment',
    DOUBLE: 'line one\nline two "quoted" $HOME',
    HASH: 'abc#def',
    COMMENTED: 'value',
    DOUBLE_COMMENTED: 'v',
    EMPTY: '',
    PEM: '-----BEGIN KEY-----\nMIIBVgIBADANBg\n-----END KEY-----',
    WINDOWS: 'crlf',
  });
});

test('parseDotenv reports every malformed line instead of guessing, without quoting secrets', () => {
  const text = [
    'GOOD=1',
    'this line is not an assignment sk_live_secret',
    'TWICE=a',
    'TWICE=b',
    'AFTER="quoted" trailing',
    'EXPANDED=${HOME}/x',
    'OPEN="never closed sk_live_secret',
  ].join('\n');
  let error: unknown;
  try {
    parseDotenv(text, '/app/.env');
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(
    error.problems.map((problem) => problem.variable),
    ['/app/.env line 2', 'TWICE', 'AFTER', 'EXPANDED', 'OPEN'],
  );
  assert.match(error.message, /\/app\/\.env line 2: is not a KEY=value assignment/);
  assert.match(error.message, /TWICE: is set twice in \/app\/\.env \(lines 3 and 4\)/);
  assert.match(error.message, /AFTER: unexpected text after the closing " on \/app\/\.env line 5/);
  assert.match(error.message, /EXPANDED: .*line 6 uses \$VAR expansion/);
  assert.match(error.message, /OPEN: the " opened on \/app\/\.env line 7 is never closed/);
  assert.doesNotMatch(error.message, /sk_live_secret/);
});

test('.env is read from the working directory and real environment variables override it', () => {
  const cwd = tempDir();
  writeFileSync(
    join(cwd, '.env'),
    ['# local settings', 'TOKENKEEPER_PORT=4100', 'TOKENKEEPER_LOG_LEVEL=debug', `TOKENKEEPER_CRON_SECRET="from-dotenv-0123456789"`, 'OTHER_TOOL=ignored'].join('\n'),
  );
  const config = loadConfig({ cwd, env: { TOKENKEEPER_PORT: '4200', TOKENKEEPER_LOG_LEVEL: '' } });
  assert.equal(config.port, 4200, 'the environment wins');
  assert.equal(config.logLevel, 'debug', 'an empty environment value does not hide the file');
  assert.equal(config.cronSecret, 'from-dotenv-0123456789');
  assert.equal(loadConfig({ cwd, env: {}, dotenvPath: false }).port, 3170, 'dotenvPath: false reads no file');
});

test('an explicit .env path must exist; a missing default .env is fine', () => {
  const cwd = tempDir();
  assert.equal(loadConfig({ cwd, env: {} }).port, 3170);
  const error = problemsOf({}, { cwd, dotenvPath: 'config/prod.env' });
  assert.deepEqual(error.problems, [{ variable: join(cwd, 'config', 'prod.env'), message: 'the .env file does not exist' }]);
});

test('a wrong value in .env names the variable and the file', () => {
  const cwd = tempDir();
  writeFileSync(join(cwd, 'custom.env'), 'TOKENKEEPER_PORT=seventy\nTOKENKEEPER_PROT=1\n');
  const error = problemsOf({}, { cwd, dotenvPath: 'custom.env' });
  const file = join(cwd, 'custom.env');
  assert.deepEqual(error.problems, [
    { variable: 'TOKENKEEPER_PORT', message: `"seventy" is not a port number (1-65535) (set in ${file})` },
    { variable: 'TOKENKEEPER_PROT', message: `is not a Tokenkeeper variable; did you mean TOKENKEEPER_PORT? (set in ${file})` },
  ]);
});

test('a malformed .env line hides none of the other problems, and adds none of its own', () => {
  const cwd = tempDir();
  writeFileSync(
    join(cwd, '.env'),
    ['TOKENKEEPER_CRON_SECRET=$CRON_SECRET', 'TOKENKEEPER_PORT=abc', 'TOKENKEEPER_PROT=${PORT}', 'TOKENKEEPER_ENCRYPTION_KEYS="$KEYS"', 'TOKENKEEPER_LOG_LEVEL=debug'].join('\n'),
  );
  const file = join(cwd, '.env');
  const error = problemsOf({ TOKENKEEPER_ENV: 'production', TOKENKEEPER_PUBLIC_URL: 'https://tokens.example.com' }, { cwd, dotenvPath: '.env' });
  assert.deepEqual(
    error.problems.map((problem) => [problem.variable, problem.message.replace(/ uses \$VAR expansion.*/, ' uses $VAR')]),
    [
      ['TOKENKEEPER_CRON_SECRET', `${file} line 1 uses $VAR`],
      ['TOKENKEEPER_PROT', `${file} line 3 uses $VAR`],
      ['TOKENKEEPER_ENCRYPTION_KEYS', `${file} line 4 uses $VAR`],
      ['TOKENKEEPER_PORT', `"abc" is not a port number (1-65535) (set in ${file})`],
      ['TOKENKEEPER_PROT', `is not a Tokenkeeper variable; did you mean TOKENKEEPER_PORT? (set in ${file})`],
    ],
    'the $VAR lines, the bad port and the misspelt name; not "TOKENKEEPER_ENCRYPTION_KEYS is required in production", since it is set',
  );

  // The environment's value of a variable whose .env line is malformed is checked as usual.
  writeFileSync(file, 'TOKENKEEPER_PORT=$PORT\n');
  const overridden = problemsOf({ TOKENKEEPER_PORT: 'eighty' }, { cwd, dotenvPath: '.env' });
  assert.deepEqual(
    overridden.problems.map((problem) => problem.variable),
    ['TOKENKEEPER_PORT', 'TOKENKEEPER_PORT'],
  );
  assert.match(overridden.problems[1]!.message, /^"eighty" is not a port number/);
});

test('each wrong value stops start-up with an error naming the variable', () => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ TOKENKEEPER_ENV: 'staging' }, 'TOKENKEEPER_ENV', /"staging" is not one of development, production/],
    [{ TOKENKEEPER_ENV: 'prod' }, 'TOKENKEEPER_ENV', /did you mean production\?/],
    [{ TOKENKEEPER_PORT: 'abc' }, 'TOKENKEEPER_PORT', /^"abc" is not a port number \(1-65535\)$/],
    [{ TOKENKEEPER_PORT: '0' }, 'TOKENKEEPER_PORT', /not a port number/],
    [{ TOKENKEEPER_PORT: '70000' }, 'TOKENKEEPER_PORT', /not a port number/],
    [{ TOKENKEEPER_PORT: '3170.5' }, 'TOKENKEEPER_PORT', /not a port number/],
    [{ TOKENKEEPER_HOST: 'my host' }, 'TOKENKEEPER_HOST', /is not a hostname or IP address/],
    [{ TOKENKEEPER_PUBLIC_URL: 'tokens.example.com' }, 'TOKENKEEPER_PUBLIC_URL', /is not an absolute URL/],
    [{ TOKENKEEPER_PUBLIC_URL: 'ftp://example.com' }, 'TOKENKEEPER_PUBLIC_URL', /must start with https:\/\//],
    [{ TOKENKEEPER_PUBLIC_URL: 'https://example.com/?a=1' }, 'TOKENKEEPER_PUBLIC_URL', /must not have a query or fragment/],
    [{ TOKENKEEPER_PUBLIC_URL: 'https://user:pw@example.com' }, 'TOKENKEEPER_PUBLIC_URL', /must not contain a user name or password/],
    [{ DATABASE_URL: 'mysql://root:pw@localhost/db' }, 'DATABASE_URL', /has the scheme "mysql:"; only PostgreSQL is supported/],
    [{ DATABASE_URL: 'postgres://[broken' }, 'DATABASE_URL', /is not a valid URL/],
    [{ TOKENKEEPER_ENCRYPTION_KEYS: 'k1:short' }, 'TOKENKEEPER_ENCRYPTION_KEYS', /decodes to \d+ bytes but AES-256 needs exactly 32/],
    [{ TOKENKEEPER_CRON_SECRET: 'too-short' }, 'TOKENKEEPER_CRON_SECRET', /is 9 characters long; use at least 16/],
    [{ TOKENKEEPER_LOG_LEVEL: 'verbose' }, 'TOKENKEEPER_LOG_LEVEL', /not one of debug, info, warn, error/],
    [{ TOKENKEEPER_LOG_FORMAT: 'text' }, 'TOKENKEEPER_LOG_FORMAT', /not one of json, pretty/],
    [{ TOKENKEEPER_SWEEP_INTERVAL: '1m' }, 'TOKENKEEPER_SWEEP_INTERVAL', /not a whole number of seconds/],
    [{ TOKENKEEPER_SWEEP_INTERVAL: '2' }, 'TOKENKEEPER_SWEEP_INTERVAL', /use 5 seconds or more, or 0/],
    [{ TOKENKEEPER_REFRESH_BUFFER: '-5' }, 'TOKENKEEPER_REFRESH_BUFFER', /not a whole number of seconds/],
    [{ TOKENKEEPER_REFRESH_TIMEOUT_MS: '10s' }, 'TOKENKEEPER_REFRESH_TIMEOUT_MS', /not a whole number of milliseconds/],
    [{ TOKENKEEPER_LEASE_MS: '5000' }, 'TOKENKEEPER_LEASE_MS', /must be longer than TOKENKEEPER_REFRESH_TIMEOUT_MS \(10000 ms\)/],
    [{ TOKENKEEPER_REFRESH_TIMEOUT_MS: '60000' }, 'TOKENKEEPER_REFRESH_TIMEOUT_MS', /must be longer than TOKENKEEPER_REFRESH_TIMEOUT_MS \(60000 ms\)/],
    [{ TOKENKEEPER_SANDBOX: 'yes please' }, 'TOKENKEEPER_SANDBOX', /is not a boolean; use true\/false, 1\/0 or on\/off/],
    [{ TOKENKEEPER_SANDBOX_PORT: '3170' }, 'TOKENKEEPER_SANDBOX_PORT', /3170 is also TOKENKEEPER_PORT/],
    [{ TOKENKEEPER_SANDBOX_PORT: 'x' }, 'TOKENKEEPER_SANDBOX_PORT', /not a port number/],
    [{ TOKENKEEPER_SANDBOX_TOKEN_TTL: '1' }, 'TOKENKEEPER_SANDBOX_TOKEN_TTL', /1 is out of range; use 5-86400 seconds/],
    [{ TOKENKEEPER_MAX_BODY_BYTES: '64k' }, 'TOKENKEEPER_MAX_BODY_BYTES', /not a whole number of bytes/],
    [{ TOKENKEEPER_ALERT_GROUP_WAIT: 'soon' }, 'TOKENKEEPER_ALERT_GROUP_WAIT', /not a duration; use seconds \(300\) or a number with s, m, h or d/],
    [{ TOKENKEEPER_ALERT_REPEAT_INTERVAL: '30s' }, 'TOKENKEEPER_ALERT_REPEAT_INTERVAL', /30s is out of range; use 60-2592000 seconds/],
  ];
  for (const [env, variable, message] of cases) {
    const error = problemsOf(env);
    assert.equal(error.problems.length, 1, `${JSON.stringify(env)}: ${error.message}`);
    assert.equal(error.problems[0]!.variable, variable, JSON.stringify(env));
    assert.match(error.problems[0]!.message, message, JSON.stringify(env));
    assert.ok(error.message.includes(`\n  ${variable}: `), 'the message names the variable on its own line');
  }
});

test('every problem is reported at once, one per line', () => {
  const error = problemsOf({ TOKENKEEPER_PORT: 'abc', TOKENKEEPER_LOG_LEVEL: 'loud', TOKENKEEPER_MAX_BODY_BYTES: 'lots' });
  assert.equal(error.name, 'ConfigError');
  assert.deepEqual(
    error.message.split('\n'),
    [
      'Invalid Tokenkeeper configuration (3 problems; see docs/configuration.md):',
      '  TOKENKEEPER_PORT: "abc" is not a port number (1-65535)',
      '  TOKENKEEPER_LOG_LEVEL: "loud" is not one of debug, info, warn, error',
      '  TOKENKEEPER_MAX_BODY_BYTES: "lots" is not a whole number of bytes; use 1024-104857600',
    ],
  );
});

test('secret values are never echoed in error messages', () => {
  const error = problemsOf({
    TOKENKEEPER_ENCRYPTION_KEYS: 'k1:c2VjcmV0LWtleS1tYXRlcmlhbA==',
    TOKENKEEPER_CRON_SECRET: 'hunter2-secret',
    DATABASE_URL: 'mysql://root:db-password-123@localhost/db',
  });
  assert.equal(error.problems.length, 3);
  for (const secret of ['c2VjcmV0LWtleS1tYXRlcmlhbA', 'hunter2-secret', 'db-password-123']) {
    assert.ok(!error.message.includes(secret), `message leaks ${secret}`);
  }
});

test('a misspelt TOKENKEEPER_* variable is an error that suggests the right name', () => {
  const cases: [string, string | null][] = [
    ['TOKENKEEPER_PROT', 'TOKENKEEPER_PORT'],
    ['TOKENKEEPER_ENCRYPTION_KEY', 'TOKENKEEPER_ENCRYPTION_KEYS'],
    ['TOKENKEEPER_ENCRYPTON_KEYS', 'TOKENKEEPER_ENCRYPTION_KEYS'],
    ['TOKENKEEPER_SWEEP_INTERVAL_SECONDS', 'TOKENKEEPER_SWEEP_INTERVAL'],
    ['TOKENKEEPER_DATABASE_URL', 'DATABASE_URL'],
    ['tokenkeeper_public_url', 'TOKENKEEPER_PUBLIC_URL'],
    ['TOKENKEEPER_FLUX_CAPACITOR', null],
  ];
  for (const [name, suggestion] of cases) {
    const error = problemsOf({ [name]: 'x' });
    assert.equal(error.problems.length, 1, error.message);
    assert.equal(error.problems[0]!.variable, name);
    assert.equal(
      error.problems[0]!.message,
      suggestion === null
        ? 'is not a Tokenkeeper variable; the known ones are listed in docs/configuration.md'
        : `is not a Tokenkeeper variable; did you mean ${suggestion}?`,
    );
  }
  assert.equal(load({ OTHER_APP_SETTING: 'x', PATH: '/usr/bin' }).port, 3170, 'variables of other programs are ignored');
});

test('production refuses to start without encryption keys, saying how to make one', () => {
  const error = problemsOf({ TOKENKEEPER_ENV: 'production', TOKENKEEPER_PUBLIC_URL: 'https://tokens.example.com' });
  assert.equal(error.problems.length, 1);
  assert.equal(error.problems[0]!.variable, 'TOKENKEEPER_ENCRYPTION_KEYS');
  assert.match(error.problems[0]!.message, /required in production/);
  assert.match(error.problems[0]!.message, /npx tokenkeeper keys generate-encryption-key/);
  assert.match(error.problems[0]!.message, /node -e "/);
});

test('production needs a public URL, and https unless it is local', () => {
  const missing = problemsOf({ TOKENKEEPER_ENV: 'production', TOKENKEEPER_ENCRYPTION_KEYS: KEY_SPEC });
  assert.equal(missing.problems[0]!.variable, 'TOKENKEEPER_PUBLIC_URL');
  assert.match(missing.problems[0]!.message, /required in production/);

  const http = problemsOf({ ...PRODUCTION, TOKENKEEPER_PUBLIC_URL: 'http://tokens.example.com' });
  assert.equal(http.problems[0]!.variable, 'TOKENKEEPER_PUBLIC_URL');
  assert.match(http.problems[0]!.message, /must use https in production/);

  for (const local of ['http://localhost:3170', 'http://127.0.0.1:3170', 'http://[::1]:3170']) {
    assert.equal(load({ ...PRODUCTION, TOKENKEEPER_PUBLIC_URL: local }).publicUrl, local);
  }
  assert.equal(load({ TOKENKEEPER_PUBLIC_URL: 'http://dev.example.test:3170' }).publicUrl, 'http://dev.example.test:3170', 'development allows http');
});

test('NODE_ENV=production without TOKENKEEPER_ENV is refused rather than run as development', () => {
  const error = problemsOf({ NODE_ENV: 'production' });
  assert.equal(error.problems[0]!.variable, 'TOKENKEEPER_ENV');
  assert.match(error.problems[0]!.message, /unset while NODE_ENV is production/);
  assert.equal(load({ NODE_ENV: 'production', TOKENKEEPER_ENV: 'development' }).env, 'development');
});

test('the configuration is deeply frozen', () => {
  const config = load({});
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.sandbox));
  assert.throws(() => {
    (config as Config).port = 1;
  }, TypeError);
  assert.throws(() => {
    (config as Config).sandbox.enabled = false;
  }, TypeError);
  assert.equal(config.port, 3170);
});

test('docs/configuration.md documents exactly the variables loadConfig reads', () => {
  const docs = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
  const tableRows = docs.split('\n').filter((line) => /^\| `[A-Z_]+` \|/.test(line));
  const documented = new Set(tableRows.map((line) => /^\| `([A-Z_]+)` \|/.exec(line)![1]!));
  const known = new Set(configVariables.map((variable) => variable.name));
  assert.deepEqual([...known].filter((name) => !documented.has(name)), [], 'variables missing from docs/configuration.md');
  assert.deepEqual([...documented].filter((name) => !known.has(name)), [], 'docs/configuration.md lists variables loadConfig does not read');
});
