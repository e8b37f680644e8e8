import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { createMemoryLogger } from '../src/logger.ts';
import { SANDBOX_DEFAULT_CLIENT, startSandbox, type SandboxServer } from '../src/sandbox/index.ts';
import { completeSandboxLogin } from './helpers/sandbox-login.ts';

// The sandbox with a state file, restarted for real: close the server, start a new one on the
// same file, and talk to both over HTTP as Tokenkeeper would.

const REDIRECT_URI = 'http://127.0.0.1:9/oauth/callback';
const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function stateFileIn(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-sandbox-state-'));
  tempDirs.push(dir);
  return join(dir, 'sandbox-state.db');
}

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  id_token?: string;
  error?: string;
}

async function token(sandbox: SandboxServer, params: Record<string, string>): Promise<{ status: number; body: TokenResponse }> {
  const basic = Buffer.from(`${SANDBOX_DEFAULT_CLIENT.client_id}:${SANDBOX_DEFAULT_CLIENT.client_secret}`).toString('base64');
  const response = await fetch(`${sandbox.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: response.status, body: (await response.json()) as TokenResponse };
}

async function connect(sandbox: SandboxServer, username: string): Promise<TokenResponse> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${sandbox.issuer}/auth`);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: SANDBOX_DEFAULT_CLIENT.client_id, redirect_uri: REDIRECT_URI, scope: 'openid api', state: 's',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  }).toString();
  const callback = await completeSandboxLogin(url, { username });
  const { status, body } = await token(sandbox, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

const refresh = (sandbox: SandboxServer, refreshToken: string) => token(sandbox, { grant_type: 'refresh_token', refresh_token: refreshToken });

async function meStatus(sandbox: SandboxServer, accessToken: string): Promise<number> {
  const response = await fetch(`${sandbox.issuer}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

/** Verifies a JWT's RS256 signature against the sandbox's published JWKS. */
async function signatureVerifies(sandbox: SandboxServer, jwt: string): Promise<boolean> {
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string };
  const { keys } = (await (await fetch(`${sandbox.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  const jwk = keys.find((key) => key.kid === kid);
  if (!jwk) return false;
  return verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url'));
}

describe('sandbox state file', () => {
  test('grants, rotated refresh tokens and the signing key survive a restart, and so does reuse detection', async () => {
    const stateFile = stateFileIn();
    const first = await startSandbox({ stateFile, redirectUris: [REDIRECT_URI] });
    let tokens: TokenResponse;
    let rotated: TokenResponse;
    try {
      tokens = await connect(first, 'alice');
      rotated = (await refresh(first, tokens.refresh_token!)).body;
      assert.ok(rotated.refresh_token);
    } finally {
      await first.close();
    }

    const second = await startSandbox({ stateFile, redirectUris: [REDIRECT_URI] });
    let latest: TokenResponse;
    try {
      assert.ok(await signatureVerifies(second, tokens.id_token!), 'an ID token from before the restart still verifies');
      assert.equal(await meStatus(second, rotated.access_token!), 200, 'an access token from before the restart still works');
      const again = await refresh(second, rotated.refresh_token!);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      latest = again.body;
      assert.equal(await meStatus(second, latest.access_token!), 200);
      assert.ok(await signatureVerifies(second, latest.id_token!));

      // Reuse detection (RFC 9700 §4.14.2) across the restart: the refresh token consumed before
      // it is refused, and the whole grant with it.
      const reused = await refresh(second, tokens.refresh_token!);
      assert.equal(reused.status, 400);
      assert.equal(reused.body.error, 'invalid_grant');
      assert.equal((await refresh(second, latest.refresh_token!)).body.error, 'invalid_grant');
    } finally {
      await second.close();
    }

    // …and the revocation itself is saved.
    const third = await startSandbox({ stateFile, redirectUris: [REDIRECT_URI] });
    try {
      assert.equal((await refresh(third, latest.refresh_token!)).body.error, 'invalid_grant');
      assert.equal(await meStatus(third, latest.access_token!), 401);
    } finally {
      await third.close();
    }
    assert.equal(statSync(stateFile).mode & 0o777, 0o600, 'it holds sandbox secrets: owner-only');
  });

  test('grants revoked through the fault switch stay revoked after a restart', async () => {
    const stateFile = stateFileIn();
    const first = await startSandbox({ stateFile, redirectUris: [REDIRECT_URI] });
    let tokens: TokenResponse;
    try {
      tokens = await connect(first, 'carol');
      assert.equal(await first.revokeGrants('carol'), 1);
    } finally {
      await first.close();
    }
    const second = await startSandbox({ stateFile, redirectUris: [REDIRECT_URI] });
    try {
      assert.equal((await refresh(second, tokens.refresh_token!)).body.error, 'invalid_grant');
    } finally {
      await second.close();
    }
  });

  test('expired entries are dropped; sessions and codes are not kept; an unreadable file is moved aside and the sandbox starts empty', async () => {
    const stateFile = stateFileIn();
    const first = await startSandbox({ stateFile, redirectUris: [REDIRECT_URI] });
    try {
      await connect(first, 'dave');
    } finally {
      await first.close();
    }
    const rows = (): { key: string; expires_at: number | null }[] => {
      const db = new DatabaseSync(stateFile);
      try {
        return db.prepare('select key, expires_at from entries order by key').all() as { key: string; expires_at: number | null }[];
      } finally {
        db.close();
      }
    };
    assert.ok(rows().some((row) => row.key.startsWith('RefreshToken:')));
    assert.ok(rows().every((row) => /^(Grant|RefreshToken|AccessToken|ClientCredentials):/.test(row.key)), 'sessions and codes stay in memory');
    // Age every entry into the past, as if the sandbox had been stopped for months.
    const db = new DatabaseSync(stateFile);
    db.exec('update entries set expires_at = 1');
    db.close();

    const second = await startSandbox({ stateFile, redirectUris: [REDIRECT_URI] });
    try {
      assert.deepEqual(rows(), []);
      await token(second, { grant_type: 'client_credentials', scope: 'api' });
    } finally {
      await second.close();
    }
    assert.deepEqual(rows().map((row) => row.key.split(':')[0]), ['ClientCredentials']);

    for (const suffix of ['-wal', '-shm']) rmSync(`${stateFile}${suffix}`, { force: true });
    writeFileSync(stateFile, 'not a database, just some bytes that happen to be here '.repeat(100));
    const logger = createMemoryLogger('warn');
    const third = await startSandbox({ stateFile, redirectUris: [REDIRECT_URI], logger });
    try {
      assert.equal((await token(third, { grant_type: 'client_credentials', scope: 'api' })).status, 200);
    } finally {
      await third.close();
    }
    assert.ok(existsSync(`${stateFile}.unreadable`));
    assert.ok(logger.lines.some((line) => line.includes('sandbox state file is unreadable')), logger.lines.join('\n'));
    assert.equal(rows().length, 1);
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
  });

  test('without a state file nothing outlives the sandbox', async () => {
    const first = await startSandbox({ redirectUris: [REDIRECT_URI] });
    let tokens: TokenResponse;
    try {
      tokens = await connect(first, 'erin');
    } finally {
      await first.close();
    }
    const second = await startSandbox({ redirectUris: [REDIRECT_URI] });
    try {
      assert.equal((await refresh(second, tokens.refresh_token!)).body.error, 'invalid_grant');
    } finally {
      await second.close();
    }
  });
});
