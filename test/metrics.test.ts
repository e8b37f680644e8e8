/**
 * /metrics as a Prometheus operator uses it: the standard process and Node.js metric names that
 * stock dashboards expect, refresh metrics per integration, no duplicate series, and an optional
 * bearer token, with `doctor` warning when production serves the metrics unprotected to the world.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, type CliIo } from '../src/cli/index.ts';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { KeyRing } from '../src/crypto/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { freePort } from './helpers/waiting.ts';

for (const dialect of testDialects()) {
  describe(`metric names and labels (${dialect})`, () => {
    let h: Harness;
    let body: string;
    before(async () => {
      h = await startHarness({ dialect });
      const id = await h.connect('metrics-user', 'meg');
      await h.api('GET', `/v1/connections/${id}/token`);
      h.clock.advance(100_000);
      await h.api('GET', `/v1/connections/${id}/token?min_validity=60`);
      await h.tk.events.settled();
      const response = await h.http.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200);
      body = response.body;
    });
    after(async () => h.close());

    test('process and Node.js metrics have their standard names, once', () => {
      for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
        assert.match(body, new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'), name);
      }
      assert.doesNotMatch(body, /tokenkeeper_process_/);
      assert.doesNotMatch(body, /process_process_/);
    });

    test('refresh metrics are labelled by integration', () => {
      assert.match(body, /^tokenkeeper_refreshes_total\{integration="sandbox",provider="sandbox",outcome="success"\} 1$/m);
      assert.match(body, /^tokenkeeper_refresh_duration_seconds_count\{integration="sandbox",provider="sandbox"\} 1$/m);
    });

    test('cache hits are one series of the token requests counter, not a second counter', () => {
      assert.doesNotMatch(body, /tokenkeeper_token_cache_hits_total/);
      assert.match(body, /^tokenkeeper_token_requests_total\{outcome="cached"\} 1$/m);
      assert.match(body, /^tokenkeeper_token_requests_total\{outcome="refreshed"\} 1$/m);
    });

    test('discovery failures have their counter', () => {
      assert.match(body, /^# TYPE tokenkeeper_discovery_failures_total counter$/m);
    });
  });
}

for (const dialect of testDialects()) {
  describe(`TOKENKEEPER_METRICS_TOKEN (${dialect})`, () => {
    const token = 'metrics-token-0123456789abcdef';
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect, env: { TOKENKEEPER_METRICS_TOKEN: token } });
    });
    after(async () => h.close());

    test('set: /metrics answers only with the bearer token', async () => {
      for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${Buffer.from(`x:${token}`).toString('base64')}`, `Bearer ${h.apiKey}`]) {
        const denied = await h.http.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
        assert.equal(denied.statusCode, 401, String(authorization));
        assert.equal(denied.json().error.code, 'metrics_unauthorized');
        assert.equal(denied.headers['www-authenticate'], 'Bearer');
        assert.doesNotMatch(denied.body, /tokenkeeper_/);
      }
      const allowed = await h.http.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
      assert.equal(allowed.statusCode, 200);
      assert.match(allowed.body, /tokenkeeper_connections/);
      assert.ok(!h.logger.lines.join('').includes(token), 'the metrics token is not logged');
    });

    test('unset: /metrics is open (a scraper on a private network needs nothing)', async () => {
      const open = await startHarness({ dialect });
      try {
        assert.equal((await open.http.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
      } finally {
        await open.close();
      }
    });

    test('validated at start-up: at least 16 characters that can follow "Bearer "', () => {
      for (const [value, message] of [
        ['short-token', /TOKENKEEPER_METRICS_TOKEN: is 11 characters long; use at least 16/],
        ['has spaces in it 0123456789', /TOKENKEEPER_METRICS_TOKEN: cannot be sent as a Bearer token/],
      ] as const) {
        assert.throws(
          () => loadConfig({ env: { TOKENKEEPER_METRICS_TOKEN: value }, dotenvPath: false }),
          (error: unknown) => error instanceof ConfigError && message.test(error.message) && !error.message.includes(value),
        );
      }
      assert.equal(loadConfig({ env: { TOKENKEEPER_METRICS_TOKEN: token }, dotenvPath: false }).metricsToken, token);
      assert.equal(loadConfig({ env: {}, dotenvPath: false }).metricsToken, null);
    });
  });
}

describe('doctor and unprotected metrics', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  async function doctor(extra: Record<string, string>): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-metrics-doctor-'));
    dirs.push(dir);
    let stdout = '';
    const env = {
      TOKENKEEPER_ENV: 'production',
      TOKENKEEPER_PUBLIC_URL: 'https://tokens.example.com',
      TOKENKEEPER_DATA_DIR: dir,
      TOKENKEEPER_PORT: String(await freePort()),
      TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
      ...extra,
    };
    const io: CliIo = { stdout: (text) => (stdout += text), stderr: () => undefined, env, cwd: dir };
    await runCli(['doctor', '--timeout', '500'], io);
    return stdout;
  }

  test('production on all interfaces without a metrics token: a warning that says what to do', async () => {
    const out = await doctor({});
    assert.match(out, /⚠ \/metrics is served without a token on 0\.0\.0\.0.*\n\s+→ set TOKENKEEPER_METRICS_TOKEN/);
    const address = await doctor({ TOKENKEEPER_HOST: '10.1.2.3' });
    assert.match(address, /⚠ \/metrics is served without a token on 10\.1\.2\.3/);
  });

  test('no warning with a token, on a loopback interface, or in development', async () => {
    assert.doesNotMatch(await doctor({ TOKENKEEPER_METRICS_TOKEN: 'metrics-token-0123456789abcdef' }), /\/metrics is served without a token/);
    assert.doesNotMatch(await doctor({ TOKENKEEPER_HOST: '127.0.0.1' }), /\/metrics is served without a token/);
    assert.doesNotMatch(await doctor({ TOKENKEEPER_ENV: 'development', TOKENKEEPER_HOST: '0.0.0.0' }), /\/metrics is served without a token/);
  });
});
