/**
 * Bulk grants (`POST /_sandbox/grants`, `SandboxServer.mintGrants`): thousands of real grants for a
 * load test without walking the login pages. What a user of them notices: each refresh token
 * works at the token endpoint like one from the login flow — it rotates, a reused one revokes
 * the grant, the ID token names the account, and `revokeGrants(account)` ends it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMemoryLogger } from '../src/logger.ts';
import { SANDBOX_DEFAULT_CLIENT, startSandbox, type SandboxServer } from '../src/sandbox/index.ts';

const credentials = Buffer.from(`${SANDBOX_DEFAULT_CLIENT.client_id}:${SANDBOX_DEFAULT_CLIENT.client_secret}`).toString('base64');

async function refresh(sandbox: SandboxServer, refreshToken: string): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${sandbox.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** The `sub` of an ID token (the signature is the sandbox's own; only the claim matters here). */
function idTokenSubject(idToken: string): unknown {
  return (JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
}

function postGrants(sandbox: SandboxServer, body: unknown): Promise<Response> {
  return fetch(`${sandbox.issuer}/_sandbox/grants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('sandbox bulk grants', () => {
  let sandbox: SandboxServer;
  before(async () => {
    sandbox = await startSandbox({ logger: createMemoryLogger() });
  });
  after(async () => sandbox.close());

  test('POST /_sandbox/grants mints refresh tokens that rotate, detect reuse and name their account', async () => {
    const response = await postGrants(sandbox, { count: 3, account_prefix: 'load-' });
    assert.equal(response.status, 200);
    const { grants } = (await response.json()) as { grants: { account_id: string; refresh_token: string; scope: string }[] };
    assert.deepEqual(grants.map((grant) => grant.account_id), ['load-1', 'load-2', 'load-3']);
    assert.equal(new Set(grants.map((grant) => grant.refresh_token)).size, 3);

    const first = await refresh(sandbox, grants[0]!.refresh_token);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(first.body.access_token);
    assert.notEqual(first.body.refresh_token, grants[0]!.refresh_token, 'rotated');
    assert.equal(idTokenSubject(first.body.id_token), 'load-1');
    const me = await fetch(`${sandbox.issuer}/api/me`, { headers: { authorization: `Bearer ${first.body.access_token}` } });
    assert.equal(me.status, 200);

    // Presenting the rotated-out token again revokes the grant, the new token with it.
    assert.equal((await refresh(sandbox, grants[0]!.refresh_token)).body.error, 'invalid_grant');
    assert.equal((await refresh(sandbox, first.body.refresh_token)).body.error, 'invalid_grant');
    // The other grants are untouched, and revocable one account at a time.
    assert.equal(await sandbox.revokeGrants('load-2'), 1);
    assert.equal((await refresh(sandbox, grants[1]!.refresh_token)).body.error, 'invalid_grant');
    assert.equal((await refresh(sandbox, grants[2]!.refresh_token)).status, 200);
  });

  test('mintGrants in code: many at once, each refresh counted in the stats like any other', async () => {
    const minted = await sandbox.mintGrants({ count: 500, accountPrefix: 'bulk-' });
    assert.equal(minted.length, 500);
    assert.equal(minted[499]!.accountId, 'bulk-500');
    sandbox.resetStats();
    const answers = await Promise.all(minted.slice(0, 20).map((grant) => refresh(sandbox, grant.refreshToken)));
    assert.deepEqual(answers.map((answer) => answer.status), Array(20).fill(200));
    assert.equal(sandbox.stats().byGrantType.refresh_token, 20);
  });

  test('bad requests are refused with a reason, and mint nothing', async () => {
    for (const body of [{}, { count: 0 }, { count: 10_001 }, { count: 1.5 }, { count: 2, account_prefix: 7 }, { count: 2, acount_prefix: 'x' }, { count: 1, account_prefix: 'x'.repeat(64) }]) {
      const response = await postGrants(sandbox, body);
      assert.equal(response.status, 400, JSON.stringify(body));
      const answer = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(answer.error.code, 'invalid_request');
      assert.ok(answer.error.message.length > 0);
    }
  });
});
