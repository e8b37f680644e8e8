import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { findIntegrationByKey } from '../src/store/index.ts';
import { completeSandboxLogin } from './helpers/sandbox-login.ts';
import { cleanUpServes, spawnServe, standaloneSetup, type ServeProcess, type StandaloneSetup } from './helpers/serve-process.ts';
import { testDialects } from './helpers/test-database.ts';
import { freePort } from './helpers/waiting.ts';

// `tokenkeeper serve` as a user runs it: the real executable in a child process, on real ports,
// with its sandbox beside it and SQLite in a temp data dir, or (DATABASE_URL) PostgreSQL.

// A safety net for a failed test: no process may outlive the suite.
after(cleanUpServes);

async function stopServe(serve: ServeProcess): Promise<void> {
  const { code } = await serve.stop('SIGTERM');
  assert.equal(code, 0, serve.stderr());
}

function apiKeyOf(dataDir: string): string {
  return readFileSync(join(dataDir, 'dev-api-key'), 'utf8').trim();
}

async function api(base: string, apiKey: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The whole connect flow against a running `serve` and its sandbox; returns the connection id. */
async function connectUser(base: string, apiKey: string, ownerId: string): Promise<string> {
  const session = await api(base, apiKey, 'POST', '/v1/connect/sessions', { integration: 'sandbox', owner_id: ownerId });
  assert.equal(session.status, 201, JSON.stringify(session.body));
  const callback = await completeSandboxLogin(session.body.connect_url, { username: ownerId });
  const landed = await fetch(new URL(`${callback.pathname}${callback.search}`, base), { redirect: 'manual' });
  const page = await landed.text();
  assert.ok(landed.status < 400, page);
  const { body } = await api(base, apiKey, 'GET', `/v1/connections?owner_id=${ownerId}`);
  assert.equal(body.data.length, 1, JSON.stringify(body));
  assert.equal(body.data[0].status, 'active');
  return body.data[0].id as string;
}

/** The issuer the stored `sandbox` integration points at, read from the database itself. */
async function storedSandboxIssuer(setup: StandaloneSetup): Promise<string> {
  const database = await setup.storage.open(setup.dataDir);
  try {
    const integration = await findIntegrationByKey(database.db, 'sandbox');
    return (integration!.settings as { issuer: string }).issuer;
  } finally {
    await database.close();
  }
}

for (const dialect of testDialects()) {
  describe(`tokenkeeper serve (process, ${dialect})`, () => {
    test('a second serve on a port in use exits 1 naming the port, and leaves the running one and its sandbox integration alone', async () => {
      const first = await standaloneSetup(dialect);
      const base = `http://127.0.0.1:${first.port}`;
      const running = spawnServe({ env: first.env });
      try {
        await running.waitForBanner();
        const apiKey = apiKeyOf(first.dataDir);
        const id = await connectUser(base, apiKey, 'alice');
        const issuer = await storedSandboxIssuer(first);
        assert.equal(issuer, `http://127.0.0.1:${first.sandboxPort}`);

        // The same data dir and service port, another (free) sandbox port.
        const second = spawnServe({ env: { ...first.env, TOKENKEEPER_SANDBOX_PORT: String(await freePort()) } });
        const { code } = await second.exited;
        assert.equal(code, 1, second.stderr());
        assert.match(second.stderr(), new RegExp(`cannot start: port ${first.port} \\(for Tokenkeeper\\) is already in use`));
        assert.equal(await storedSandboxIssuer(first), issuer, 'the stored sandbox integration is unchanged');

        // The same data dir, a free service port, the running sandbox's port.
        const third = spawnServe({ env: { ...first.env, TOKENKEEPER_PORT: String(await freePort()) } });
        assert.equal((await third.exited).code, 1, third.stderr());
        assert.match(third.stderr(), new RegExp(`port ${first.sandboxPort} \\(for the sandbox provider\\) is already in use`));
        assert.match(third.stderr(), /TOKENKEEPER_SANDBOX_PORT=<port>/);
        assert.equal(await storedSandboxIssuer(first), issuer);

        const refreshed = await api(base, apiKey, 'POST', `/v1/connections/${id}/refresh`);
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
        assert.equal((await api(base, apiKey, 'GET', `/v1/connections/${id}`)).body.status, 'active');
      } finally {
        await stopServe(running);
      }
    });

    test('a restarted serve keeps its sandbox connections alive: the refresh token still works, nothing goes to needs_reauth', async () => {
      const setup = await standaloneSetup(dialect);
      const base = `http://127.0.0.1:${setup.port}`;
      const first = spawnServe({ env: setup.env });
      let id: string;
      try {
        await first.waitForBanner();
        id = await connectUser(base, apiKeyOf(setup.dataDir), 'bob');
      } finally {
        await stopServe(first);
      }
      const restarted = spawnServe({ env: setup.env });
      try {
        await restarted.waitForBanner();
        const apiKey = apiKeyOf(setup.dataDir);
        for (let round = 0; round < 2; round++) {
          const refreshed = await api(base, apiKey, 'POST', `/v1/connections/${id}/refresh`);
          assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
        }
        const connection = await api(base, apiKey, 'GET', `/v1/connections/${id}`);
        assert.equal(connection.body.status, 'active', JSON.stringify(connection.body));
        // The sandbox's demo API accepts the access token a refresh after the restart handed out.
        const token = await api(base, apiKey, 'GET', `/v1/connections/${id}/token`);
        const me = await fetch(`http://127.0.0.1:${setup.sandboxPort}/api/me`, { headers: { authorization: `Bearer ${token.body.access_token}` } });
        assert.equal(me.status, 200);
      } finally {
        await stopServe(restarted);
      }
      const state = statSync(join(setup.dataDir, 'sandbox-state.db'));
      assert.equal(state.mode & 0o777, 0o600, 'the sandbox state holds sandbox secrets: owner-only');
    });
  });
}
