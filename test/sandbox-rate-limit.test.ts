import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSandbox, type SandboxServer } from '../src/sandbox/index.ts';

/** Five token requests at once, each a refresh with an unknown token: answered 400 unless throttled. */
async function burst(sandbox: SandboxServer, count: number): Promise<Response[]> {
  return Promise.all(Array.from({ length: count }, () => fetch(new URL('/token', sandbox.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'unknown', client_id: 'nobody' }),
  })));
}

describe('sandbox rateLimitPerSecond switch', () => {
  let sandbox: SandboxServer;
  before(async () => {
    sandbox = await startSandbox();
  });
  after(async () => sandbox.close());

  test('above N requests in one second: 429 temporarily_unavailable with Retry-After: 1, counted in stats', async () => {
    sandbox.setFaults({ rateLimitPerSecond: 2 });
    sandbox.resetStats();
    const responses = await burst(sandbox, 5);
    const throttled = responses.filter((response) => response.status === 429);
    assert.equal(throttled.length, 3);
    assert.equal(responses.length - throttled.length, 2);
    for (const response of throttled) {
      assert.equal(response.headers.get('retry-after'), '1');
      assert.equal(((await response.json()) as { error: string }).error, 'temporarily_unavailable');
    }
    assert.equal(sandbox.stats().rateLimited, 3);
    assert.equal(sandbox.stats().tokenRequests, 5);

    sandbox.setFaults({ rateLimitPerSecond: null });
    const free = await burst(sandbox, 5);
    assert.ok(free.every((response) => response.status !== 429));
    assert.equal(sandbox.stats().rateLimited, 3);
  });

  test('the switch is validated like the others', () => {
    assert.throws(() => sandbox.setFaults({ rateLimitPerSecond: 0 }), { code: 'invalid_request' });
    assert.throws(() => sandbox.setFaults({ rateLimitPerSecond: 1.5 }), { code: 'invalid_request' });
    assert.equal(sandbox.faults().rateLimitPerSecond, null);
  });
});
