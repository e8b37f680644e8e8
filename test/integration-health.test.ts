import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli, type CliIo } from '../src/cli/index.ts';
import type { EventMap } from '../src/events.ts';
import { findConnection } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

/**
 * An integration the provider rejects (`invalid_client` and friends) is the operator's problem,
 * not the users': it is marked failing where the operator looks (API, CLI, page) with the
 * provider's own words, its connections are left exactly as they are, and any update clears it.
 */
for (const dialect of testDialects()) {
  describe(`integration health (${dialect})`, () => {
    let h: Harness;
    let integrationId: string;
    let connectionId: string;
    const failing: EventMap['integration.failing'][] = [];
    const recovered: EventMap['integration.recovered'][] = [];

    async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      let stdout = '';
      let stderr = '';
      const io: CliIo = {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
        env: {
          TOKENKEEPER_DATA_DIR: h.dataDir,
          TOKENKEEPER_ENCRYPTION_KEYS: h.encryptionKeys,
          TOKENKEEPER_PUBLIC_URL: h.config.publicUrl,
          TOKENKEEPER_SANDBOX: 'false',
          ...(h.config.databaseUrl ? { DATABASE_URL: h.config.databaseUrl } : {}),
        },
        cwd: h.dataDir,
        stderrIsTTY: false,
      };
      const code = await runCli(argv, io);
      return { code, stdout, stderr };
    }

    before(async () => {
      h = await startHarness({ dialect });
      integrationId = (await h.tk.integrations.getByKey('sandbox')).id;
      connectionId = await h.connect('owner-health', 'hana');
      h.tk.events.on('integration.failing', (payload) => void failing.push(payload));
      h.tk.events.on('integration.recovered', (payload) => void recovered.push(payload));
    });

    after(() => h.close());

    test('a healthy integration says so', async () => {
      const response = await h.api('GET', '/v1/integrations/sandbox');
      assert.equal(response.status, 200);
      assert.equal(response.body.status, 'ok');
      assert.equal(response.body.failure, null);
    });

    test('markFailing shows the provider error everywhere and leaves the connections alone', async () => {
      const before = await findConnection(h.tk.database.db, connectionId);
      const failedAt = h.clock.now();
      await h.tk.integrations.markFailing(integrationId, { code: 'invalid_client', message: 'client authentication failed <b>' });

      const response = await h.api('GET', '/v1/integrations/sandbox');
      assert.equal(response.status, 200);
      assert.equal(response.body.status, 'failing');
      assert.deepEqual(response.body.failure, {
        code: 'invalid_client',
        message: 'client authentication failed <b>',
        since: new Date(failedAt).toISOString(),
      });
      const listed = await h.api('GET', '/v1/integrations');
      assert.equal(listed.body.data[0].status, 'failing');

      assert.equal(failing.length, 1);
      assert.deepEqual(failing[0], { integrationKey: 'sandbox', provider: 'sandbox', errorCode: 'invalid_client', reason: 'client authentication failed <b>' });

      // The connection and its token set are exactly as they were: nobody has to reconnect.
      const afterwards = await findConnection(h.tk.database.db, connectionId);
      assert.equal(afterwards?.status, 'active');
      assert.equal(afterwards?.tokensSealed, before?.tokensSealed);
      assert.equal(afterwards?.version, before?.version);
      const connection = await h.api('GET', `/v1/connections/${connectionId}`);
      assert.equal(connection.body.status, 'active');
    });

    test('marking it failing again is idempotent: the first time and one event are kept', async () => {
      const first = (await h.api('GET', '/v1/integrations/sandbox')).body.failure;
      h.clock.advance(5_000);
      await h.tk.integrations.markFailing(integrationId, { code: 'invalid_client', message: 'client authentication failed <b>' });
      await h.tk.integrations.markFailing(integrationId, { code: 'unauthorized_client', message: 'HTTP 401 from the token endpoint' });
      const now = (await h.api('GET', '/v1/integrations/sandbox')).body.failure;
      assert.equal(now.since, first.since);
      assert.equal(now.code, 'unauthorized_client', 'the latest provider error is shown');
      assert.equal(failing.length, 1);
    });

    test('recordById and resolveById carry the failing state', async () => {
      const view = await h.tk.integrations.recordById(integrationId);
      assert.equal(view.record.failureCode, 'unauthorized_client');
      assert.equal(typeof view.record.failingSince, 'number');
      assert.equal(view.provider.key, 'sandbox');
      const resolved = await h.tk.integrations.resolveById(integrationId);
      assert.equal(resolved.record.failureCode, 'unauthorized_client');
    });

    test('the CLI lists and shows the failing integration with the provider error', async () => {
      const list = await cli(['integrations', 'list']);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /failing/);
      assert.match(list.stdout, /unauthorized_client/);
      const json = JSON.parse((await cli(['integrations', 'list', '--json'])).stdout);
      assert.equal(json[0].status, 'failing');
      const show = await cli(['integrations', 'show', 'sandbox']);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, /status\s+failing/);
      assert.match(show.stdout, /unauthorized_client: HTTP 401 from the token endpoint/);
      const showJson = JSON.parse((await cli(['integrations', 'show', 'sandbox', '--json'])).stdout);
      assert.equal(showJson.failure.code, 'unauthorized_client');
      const help = await cli(['integrations', 'show', '--help']);
      assert.match(help.stdout, /^Usage: tokenkeeper integrations show/);
      const missing = await cli(['integrations', 'show', 'nope']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /integration_not_found|No integration/);
    });

    test('the page shows the integration as failing with the provider error', async () => {
      const page = await h.http.app.inject({ method: 'GET', url: '/' });
      assert.equal(page.statusCode, 200);
      const row = /<tr data-integration="sandbox"[\s\S]*?<\/tr>/.exec(page.body)?.[0] ?? '';
      assert.match(row, /failing/);
      assert.match(row, /unauthorized_client/);
      assert.match(row, /HTTP 401 from the token endpoint/);
    });

    test('a failure seen with an older version of the integration does not mark the fixed one', async () => {
      const stale = await h.tk.integrations.recordById(integrationId);
      const patched = await h.api('PATCH', '/v1/integrations/sandbox', { display_name: 'Sandbox, fixed' });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.status, 'ok');
      await h.tk.integrations.markFailing(integrationId, {
        code: 'invalid_client',
        message: 'from a request made with the old secret',
        recordUpdatedAt: stale.record.updatedAt,
      });
      const response = await h.api('GET', '/v1/integrations/sandbox');
      assert.equal(response.body.status, 'ok');
      assert.equal(response.body.failure, null);
    });

    test('updating the integration clears the failure and reports the recovery once', async () => {
      recovered.length = 0;
      await h.tk.integrations.markFailing(integrationId, { code: 'invalid_client', message: 'bad secret' });
      assert.equal((await h.tk.integrations.recordById(integrationId)).record.failureCode, 'invalid_client');
      const patched = await h.api('PATCH', '/v1/integrations/sandbox', { client_secret: 'a-new-secret' });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.status, 'ok');
      assert.equal(patched.body.failure, null);
      assert.deepEqual(recovered, [{ integrationKey: 'sandbox', provider: 'sandbox' }]);
      const view = await h.tk.integrations.recordById(integrationId);
      assert.equal(view.record.failingSince, null);
      assert.equal(view.record.failureCode, null);
      // An update of a healthy integration is not a recovery.
      await h.api('PATCH', '/v1/integrations/sandbox', { display_name: 'Sandbox' });
      assert.equal(recovered.length, 1);
    });

    test('a disabled integration says disabled', async () => {
      const patched = await h.api('PATCH', '/v1/integrations/sandbox', { enabled: false });
      assert.equal(patched.body.status, 'disabled');
      const page = await h.http.app.inject({ method: 'GET', url: '/' });
      assert.match(/<tr data-integration="sandbox"[\s\S]*?<\/tr>/.exec(page.body)?.[0] ?? '', /disabled/);
      await h.api('PATCH', '/v1/integrations/sandbox', { enabled: true });
    });

    test('unknown integrations are not found, and a failure message is kept short', async () => {
      await assert.rejects(h.tk.integrations.markFailing('int_aaaaaaaaaaaaaaaaaaaa', { code: 'invalid_client', message: 'x' }), { code: 'integration_not_found' });
      await assert.rejects(h.tk.integrations.recordById('int_aaaaaaaaaaaaaaaaaaaa'), { code: 'integration_not_found' });
      await h.tk.integrations.markFailing(integrationId, { code: 'invalid_client', message: 'x'.repeat(10_000) });
      const response = await h.api('GET', '/v1/integrations/sandbox');
      assert.ok(response.body.failure.message.length <= 1_000);
    });
  });
}
