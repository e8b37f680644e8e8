import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.ts';
import {
  insertConnection,
  insertIntegration,
  listDueForRefresh,
  migrateToLatest,
  type ConnectionRecord,
  type DatabaseHandle,
} from '../src/store/index.ts';
import { CircuitBreaker, RateLimiter, cooldownDelay, fullJitterDelay } from '../src/tokens/index.ts';
import { testDialects } from './helpers/test-database.ts';
import { testStorage, type TestStorage } from './helpers/test-storage.ts';

const MINUTE = 60_000;

for (const dialect of testDialects()) {
  describe(`which connections the sweep refreshes (injectable clock, real database: ${dialect})`, () => {
    let storage: TestStorage;
    let handle: DatabaseHandle;
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    let n = 0;
    const add = async (issuedAgoMs: number | null, lifetimeMs: number | null, status: ConnectionRecord['status'] = 'active'): Promise<string> => {
      const id = `con_${String(n++).padStart(20, 'a')}`.slice(0, 24);
      const now = clock.now();
      await insertConnection(handle.db, {
        id, integrationId: 'int_test', ownerId: 'o', kind: 'user', status, statusReason: null, accountId: null, accountLabel: null,
        tokensSealed: 'sealed', tokenType: 'Bearer', scopes: null,
        expiresAt: lifetimeMs === null ? null : now - (issuedAgoMs ?? 0) + lifetimeMs,
        issuedAt: issuedAgoMs === null ? null : now - issuedAgoMs,
        lastRefreshAt: null, metadata: {}, version: 1, leaseOwner: null, leaseUntil: null, failureCount: 0, nextAttemptAt: null, unansweredRefreshAt: null,
        lastErrorCode: null, lastErrorMessage: null, createdAt: now, updatedAt: now,
      });
      return id;
    };

    before(async () => {
      storage = await testStorage(dialect);
      handle = await storage.open();
      await migrateToLatest(handle.db);
      const now = clock.now();
      await insertIntegration(handle.db, {
        id: 'int_test', key: 'test', provider: 'sandbox', displayName: null, clientId: 'c', clientSecretSealed: null, scopes: [],
        redirectUri: null, settings: {}, refreshBufferSeconds: 300, systemGrant: null, systemScopes: null, enabled: true, createdAt: now, updatedAt: now,
      });
    });
    after(async () => {
      await handle.close();
      await storage.drop();
    });

    test('a 1 h token is due when less than max(300 s, 15 min) remains', async () => {
      const fresh = await add(40 * MINUTE, 60 * MINUTE); // 20 min left
      const due = await add(46 * MINUTE, 60 * MINUTE); // 14 min left
      const ids = (await listDueForRefresh(handle.db, clock.now(), 100)).map((row) => row.id);
      assert.ok(!ids.includes(fresh));
      assert.ok(ids.includes(due));
    });

    test('a 120 s token uses a buffer capped at half its lifetime, not the 300 s buffer', async () => {
      const young = await add(30_000, 120_000); // 90 s left: not due (threshold 60 s)
      const old = await add(70_000, 120_000); // 50 s left: due
      const ids = (await listDueForRefresh(handle.db, clock.now(), 100)).map((row) => row.id);
      assert.ok(!ids.includes(young));
      assert.ok(ids.includes(old));
    });

    test('unknown lifetime uses the buffer; non-expiring and needs_reauth are never due', async () => {
      const imported = await add(null, 4 * MINUTE);
      const importedLater = await add(null, 10 * MINUTE);
      const forever = await add(0, null);
      const broken = await add(70_000, 120_000, 'needs_reauth');
      const ids = (await listDueForRefresh(handle.db, clock.now(), 100)).map((row) => row.id);
      assert.ok(ids.includes(imported));
      assert.ok(!ids.includes(importedLater));
      assert.ok(!ids.includes(forever));
      assert.ok(!ids.includes(broken));
    });
  });
}

describe('outbound protection', () => {
  test('full jitter stays within [0, min(cap, base·2^n)] and cooldown never drops below half of it', () => {
    const policy = { baseMs: 100, maxMs: 1_000 };
    assert.equal(fullJitterDelay(3, policy, () => 0), 0);
    assert.equal(fullJitterDelay(3, policy, () => 0.999999), 799);
    assert.equal(fullJitterDelay(10, policy, () => 0.999999), 999);
    assert.equal(cooldownDelay(1, policy, () => 0), 50);
    assert.equal(cooldownDelay(20, policy, () => 0), 500);
  });

  test('the circuit breaker opens, lets one trial through after the open period, and closes on success', () => {
    const clock = new ManualClock(0);
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 10_000 }, clock);
    assert.equal(breaker.recordFailure(), false);
    assert.equal(breaker.recordFailure(), false);
    assert.equal(breaker.recordFailure(), true);
    assert.deepEqual(breaker.tryPass(), { allowed: false, retryAfterMs: 10_000 });
    clock.advance(10_000);
    assert.deepEqual(breaker.tryPass(), { allowed: true });
    assert.equal(breaker.tryPass().allowed, false, 'only one trial at a time');
    breaker.recordFailure();
    assert.equal(breaker.status, 'open', 'a failed trial opens it again');
    clock.advance(10_000);
    breaker.tryPass();
    assert.equal(breaker.recordSuccess(), true);
    assert.equal(breaker.status, 'closed');
  });

  test('the rate limiter caps requests per minute and concurrency, and gives up after its wait bound', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ requestsPerMinute: 60, concurrency: 2 }, clock);
    // Starts with a sixth of a minute's budget (10) so a burst after start-up is bounded.
    assert.equal(await limiter.acquire(0), true);
    assert.equal(await limiter.acquire(0), true);
    assert.equal(await limiter.acquire(0), false, 'concurrency 2');
    limiter.release();
    limiter.release();
    for (let i = 0; i < 8; i++) {
      assert.equal(await limiter.acquire(0), true);
      limiter.release();
    }
    assert.equal(await limiter.acquire(0), false, 'the bucket is empty');
    clock.advance(1_000);
    assert.equal(await limiter.acquire(0), true, 'one request per second refills');
  });
});
