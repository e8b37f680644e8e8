import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertRuleSettingsOf, BUILT_IN_ALERTS, SlidingHitWindow } from '../src/alerts/index.ts';
import { needsReauthAlert } from '../src/alerts/rules/connection-rules.ts';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { readFileSync } from 'node:fs';

/** The rule thresholds: defaults, the sweep-stalled default that follows the sweep interval, and loud errors. */

function load(env: Record<string, string>) {
  return loadConfig({ env: { TOKENKEEPER_DATA_DIR: '/tmp/tokenkeeper-rules-config', ...env }, dotenvPath: false });
}

function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((problem) => `${problem.variable}: ${problem.message}`);
  }
  return [];
}

test('defaults: 15 min failing, 50 % of at least 20 refreshes over 15 min, three sweep intervals, 70 % of at least 100 requests', () => {
  const rules = load({}).alertRules;
  assert.deepEqual(rules, {
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
  });
  const settings = alertRuleSettingsOf(rules, 60);
  assert.equal(settings.refreshFailingAfterMs, 900_000);
  assert.equal(settings.errorRate, 0.5);
  assert.equal(settings.cacheHitRate, 0.7);
  assert.equal(settings.sweepStalledAfterMs, 180_000);
});

test('the sweep-stalled default follows TOKENKEEPER_SWEEP_INTERVAL; a threshold within one interval is refused; 0 turns it off', () => {
  assert.equal(load({ TOKENKEEPER_SWEEP_INTERVAL: '300' }).alertRules.sweepStalledAfterSeconds, 900);
  assert.equal(load({ TOKENKEEPER_SWEEP_INTERVAL: '0' }).alertRules.sweepStalledAfterSeconds, 180, 'three of the assumed minute when this instance does not sweep');
  assert.equal(load({ TOKENKEEPER_ALERT_SWEEP_STALLED_AFTER: '0' }).alertRules.sweepStalledAfterSeconds, 0);
  assert.equal(load({ TOKENKEEPER_ALERT_SWEEP_STALLED_AFTER: '15m', TOKENKEEPER_SWEEP_INTERVAL: '300' }).alertRules.sweepStalledAfterSeconds, 900);
  const [problem, ...rest] = problemsOf({ TOKENKEEPER_ALERT_SWEEP_STALLED_AFTER: '60', TOKENKEEPER_SWEEP_INTERVAL: '60' });
  assert.deepEqual(rest, []);
  assert.match(problem!, /^TOKENKEEPER_ALERT_SWEEP_STALLED_AFTER: 60 s is not longer than the sweep interval \(60 s, TOKENKEEPER_SWEEP_INTERVAL\); use a few intervals \(e\.g\. 180\), or 0/);
});

test('a wrong threshold stops start-up naming the variable and the accepted range', () => {
  const problems = problemsOf({
    TOKENKEEPER_ALERT_ERROR_RATE: '150',
    TOKENKEEPER_ALERT_CACHE_HIT_RATE: '70%',
    TOKENKEEPER_ALERT_REFRESH_FAILING_AFTER: 'soon',
    TOKENKEEPER_ALERT_RULES_INTERVAL: '1s',
    TOKENKEEPER_ALERT_ERROR_RATE_MIN_REFRESHES: '0',
  });
  assert.deepEqual(problems.map((problem) => problem.split(':')[0]).sort(), [
    'TOKENKEEPER_ALERT_CACHE_HIT_RATE',
    'TOKENKEEPER_ALERT_ERROR_RATE',
    'TOKENKEEPER_ALERT_ERROR_RATE_MIN_REFRESHES',
    'TOKENKEEPER_ALERT_REFRESH_FAILING_AFTER',
    'TOKENKEEPER_ALERT_RULES_INTERVAL',
  ]);
  assert.ok(problems.some((problem) => /TOKENKEEPER_ALERT_ERROR_RATE: 150 is out of range; use 1-100 percent/.test(problem)), problems.join('\n'));
  assert.ok(problems.some((problem) => /TOKENKEEPER_ALERT_CACHE_HIT_RATE: "70%" is not a whole number of percent/.test(problem)), problems.join('\n'));
  assert.ok(problems.some((problem) => /TOKENKEEPER_ALERT_REFRESH_FAILING_AFTER: "soon" is not a duration/.test(problem)), problems.join('\n'));
});

test('connection_needs_reauth is MEDIUM for a user connection and HIGH for a system connection', () => {
  const facts = {
    id: 'con_1',
    ownerId: 'u-1',
    kind: 'user' as const,
    status: 'needs_reauth' as const,
    statusReason: 'invalid_grant',
    accountLabel: 'rita@example.com',
    failingSince: null,
    expiresAt: null,
    lastErrorMessage: null,
    integrationKey: 'google',
    provider: 'google',
    clientCredentials: false,
  };
  const user = needsReauthAlert(facts);
  assert.equal(user.severity, 'MEDIUM');
  assert.deepEqual(user.labels, { integration: 'google', provider: 'google', owner: 'u-1' });
  assert.equal(user.summary, 'connection con_1 (owner u-1, rita@example.com) of google needs re-authorization: invalid_grant');
  const system = needsReauthAlert({ ...facts, kind: 'system', ownerId: null, accountLabel: null });
  assert.equal(system.severity, 'HIGH');
  assert.deepEqual(system.labels, { integration: 'google', provider: 'google', kind: 'system' });
  assert.equal(system.summary, 'connection con_1 (system connection) of google needs re-authorization: invalid_grant');
});

test('the hit-rate window slides a bucket at a time and forgets what fell out of it', () => {
  const minute = 60_000;
  const window = new SlidingHitWindow(15 * minute);
  const start = 1_000 * minute;
  for (let index = 0; index < 10; index++) window.record(false, start);
  window.record(true, start + 5 * minute);
  assert.deepEqual(window.totals(start + 5 * minute), { hits: 1, requests: 11 });
  assert.deepEqual(window.totals(start + 14 * minute), { hits: 1, requests: 11 });
  assert.deepEqual(window.totals(start + 15 * minute), { hits: 1, requests: 1 }, 'the first minute has left the window');
  assert.deepEqual(window.totals(start + 21 * minute), { hits: 0, requests: 0 });
});

test('docs/alerts.md lists every built-in rule with its severity and key', () => {
  const doc = readFileSync(new URL('../docs/alerts.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Built-in rules'));
  assert.ok(section.length > 0 && doc.includes('## Built-in rules'));
  for (const rule of BUILT_IN_ALERTS) {
    const row = section.split('\n').find((line) => line.startsWith(`| \`${rule.type}\``));
    assert.ok(row, `${rule.type} has a row`);
    for (const severity of rule.severity.split(' or ')) assert.ok(row.includes(`\`${severity}\``), `${rule.type}: ${severity}`);
    assert.ok(row.includes(rule.key.split(' ')[0]!), `${rule.type}: ${rule.key}`);
  }
});
