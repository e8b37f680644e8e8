/**
 * The dashboard password (HTTP Basic, production): long enough to resist guessing, and guessing
 * is slowed down per client address, each failure logged without the password.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { startHarness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

const PASSWORD = 'correct horse battery staple';
const basic = (secret: string, user = 'admin') => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

describe('TOKENKEEPER_DASHBOARD_PASSWORD at start-up', () => {
  test('a password shorter than 12 characters stops start-up, naming the variable but not the value', () => {
    let thrown: unknown;
    try {
      loadConfig({ env: { TOKENKEEPER_DASHBOARD_PASSWORD: 'hunter2' }, dotenvPath: false });
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof ConfigError, 'a ConfigError');
    const problem = thrown.problems.find((p) => p.variable === 'TOKENKEEPER_DASHBOARD_PASSWORD');
    assert.ok(problem, thrown.message);
    assert.match(problem.message, /at least 12/);
    assert.doesNotMatch(thrown.message, /hunter2/);
    assert.equal(loadConfig({ env: { TOKENKEEPER_DASHBOARD_PASSWORD: 'twelve-chars' }, dotenvPath: false }).dashboardPassword, 'twelve-chars');
  });
});

for (const dialect of testDialects()) {
  describe(`guessing the dashboard password (${dialect})`, () => {
    test('after 5 wrong passwords from one address: 429 with a growing Retry-After, even for the right one', async (t) => {
      const h = await startHarness({ dialect, env: { TOKENKEEPER_ENV: 'production', TOKENKEEPER_DASHBOARD_PASSWORD: PASSWORD } });
      t.after(() => h.close());
      const attempt = (authorization: string | undefined, remoteAddress = '203.0.113.7') =>
        h.http.app.inject({ method: 'GET', url: '/', remoteAddress, headers: { host: '127.0.0.1:3170', ...(authorization ? { authorization } : {}) } });

      // Asking without credentials is how every visit starts (the browser then shows its prompt): not a failure.
      for (let i = 0; i < 10; i++) assert.equal((await attempt(undefined)).statusCode, 401);

      for (let i = 1; i <= 5; i++) {
        const response = await attempt(basic(`guess-${i}`));
        assert.equal(response.statusCode, 401, `guess ${i}`);
        assert.match(String(response.headers['www-authenticate']), /^Basic/);
      }
      const blocked = await attempt(basic(PASSWORD));
      assert.equal(blocked.statusCode, 429, 'the right password is refused too while blocked: no oracle');
      assert.match(blocked.body, /dashboard_rate_limited/);
      const firstWait = Number(blocked.headers['retry-after']);
      assert.ok(firstWait >= 1, `Retry-After ${firstWait}`);

      // Another address is not affected.
      assert.equal((await attempt(basic(PASSWORD), '198.51.100.9')).statusCode, 200);

      // Waiting it out allows one more guess; a wrong one blocks for longer.
      h.clock.advance(firstWait * 1000);
      assert.equal((await attempt(basic('guess-6'))).statusCode, 401);
      const again = await attempt(basic(PASSWORD));
      assert.equal(again.statusCode, 429);
      const secondWait = Number(again.headers['retry-after']);
      assert.ok(secondWait > firstWait, `the delay grows: ${firstWait} s, then ${secondWait} s`);

      h.clock.advance(secondWait * 1000);
      assert.equal((await attempt(basic(PASSWORD))).statusCode, 200, 'the right password after the wait');
      // Success forgets the failures.
      for (let i = 1; i <= 4; i++) assert.equal((await attempt(basic(`late-${i}`))).statusCode, 401);
      assert.equal((await attempt(basic(PASSWORD))).statusCode, 200);

      const failures = h.logger.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'dashboard sign-in failed');
      assert.equal(failures.length, 10, 'each wrong password logged once');
      for (const entry of failures) {
        assert.equal(entry.level, 'warn');
        assert.equal(entry.address, '203.0.113.7');
      }
      const log = h.logger.lines.join('\n');
      assert.doesNotMatch(log, /guess-\d|late-\d/, 'never the password tried');
      assert.ok(!log.includes(PASSWORD), 'never the real password');
    });
  });
}
