/**
 * The HTTP contract as a client meets it: the schemas on the routes refuse what they do not
 * know (an unknown query parameter used to be ignored, so `?owner=alice` listed everyone's
 * connections), list every problem at once in words, answer 405 with `Allow` for a known path
 * and a wrong method, and every documented operation answers what the OpenAPI document says.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { alertToJson, silenceToJson } from '../src/alerts/index.ts';
import { hashSecret } from '../src/crypto/index.ts';
import { stuckConnectionToJson } from '../src/health/index.ts';
import { apiKeyToJson } from '../src/http/api-keys.ts';
import { newId } from '../src/ids.ts';
import { insertConnectSession } from '../src/store/index.ts';
import { tokenJson } from '../src/http/query.ts';
import { integrationToJson } from '../src/integrations/index.ts';
import { connectionToJson } from '../src/tokens/index.ts';
import { CRON_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

type OpenApiDocument = {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
};

const RAW_VALIDATOR_WORDS = /must NOT|must have required property|instancePath|schemaPath|#\/|\/properties\//;

for (const dialect of testDialects()) {
  describe(`the HTTP contract (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('an unknown query parameter is refused, not ignored: ?owner=alice does not list every owner', async () => {
      await h.connect('alice', 'alice');
      await h.connect('bob', 'bob');
      const response = await h.api('GET', '/v1/connections?owner=alice');
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.error.code, 'invalid_request');
      assert.match(response.body.error.message, /unknown query parameter "owner"/);
      assert.equal(response.body.data, undefined, 'no connections are listed');
      const right = await h.api('GET', '/v1/connections?owner_id=alice');
      assert.equal(right.status, 200);
      assert.deepEqual(right.body.data.map((c: { owner_id: string }) => c.owner_id), ['alice']);
      const token = await h.api('GET', '/v1/integrations/sandbox/token?owner=alice');
      assert.equal(token.status, 400);
      assert.match(token.body.error.message, /unknown query parameter "owner"/);
    });

    test('every problem of a request is listed at once, in words, never the validator’s own output', async () => {
      const query = await h.api('GET', `/v1/integrations/sandbox/token?owner_id=${'x'.repeat(201)}&fallback=maybe&min_validity=-1&colour=red`);
      assert.equal(query.status, 400, JSON.stringify(query.body));
      assert.equal(query.body.error.code, 'invalid_request');
      const problems: string[] = query.body.error.details.problems;
      assert.deepEqual(problems.slice().sort(), [
        'fallback must be one of "system", "none"',
        'min_validity must be at least 0',
        'owner_id must be at most 200 characters',
        'unknown query parameter "colour"',
      ]);
      for (const problem of problems) assert.ok(query.body.error.message.includes(problem), query.body.error.message);
      assert.doesNotMatch(JSON.stringify(query.body), RAW_VALIDATOR_WORDS);

      const body = await h.api('POST', '/v1/api-keys', { name: 7, scopes: ['all'], role: 'admin' });
      assert.equal(body.status, 400);
      assert.deepEqual(body.body.error.details.problems.slice().sort(), ['name must be a string', 'unknown field "role"', 'unknown field "scopes"']);
      assert.doesNotMatch(JSON.stringify(body.body), RAW_VALIDATOR_WORDS);

      const missing = await h.api('POST', '/v1/api-keys', {});
      assert.deepEqual(missing.body.error.details.problems, ['name is required']);
      const notAnObject = await h.api('POST', '/v1/api-keys', []);
      assert.deepEqual(notAnObject.body.error.details.problems, ['the body must be a JSON object']);

      const integration = await h.api('POST', '/v1/integrations', { key: 'BAD KEY', provider: 'custom', client_id: 5, refresh_buffer_seconds: 'soon', colour: 1 });
      assert.equal(integration.status, 400);
      const listed: string[] = integration.body.error.details.problems;
      for (const expected of [/^key must be lowercase letters/, /^client_id must be a string$/, /^refresh_buffer_seconds must be a whole number$/, /^unknown field "colour"$/]) {
        assert.ok(listed.some((problem) => expected.test(problem)), `${expected} in ${JSON.stringify(listed)}`);
      }
      assert.doesNotMatch(JSON.stringify(integration.body), RAW_VALIDATOR_WORDS);

      const twice = await h.api('GET', '/v1/connections?owner_id=a&owner_id=b');
      assert.equal(twice.status, 400);
      assert.deepEqual(twice.body.error.details.problems, ['owner_id must be given once']);
    });

    test('a bad id in the path stays invalid_id, naming what kind of id was expected', async () => {
      const connection = await h.api('GET', '/v1/connections/not-an-id');
      assert.equal(connection.status, 400);
      assert.equal(connection.body.error.code, 'invalid_id');
      assert.match(connection.body.error.message, /"not-an-id" is not a connection id/);
      const key = await h.api('DELETE', '/v1/api-keys/con_aaaaaaaaaaaaaaaaaaaa');
      assert.equal(key.body.error.code, 'invalid_id');
      assert.match(key.body.error.message, /is not an API key id/);
    });

    test('a known path with a wrong method answers 405 with Allow; an unknown path stays 404', async () => {
      const cases: [string, string, string[]][] = [
        ['PUT', '/v1/connections', ['GET', 'HEAD', 'POST']],
        ['DELETE', '/v1/connections/con_aaaaaaaaaaaaaaaaaaaa/token', ['GET', 'HEAD']],
        ['GET', '/v1/connections/con_aaaaaaaaaaaaaaaaaaaa/refresh', ['POST']],
        ['POST', '/health', ['GET', 'HEAD']],
        ['DELETE', '/v1/cron/refresh', ['GET', 'HEAD', 'POST']],
        ['PUT', '/v1/integrations/sandbox', ['DELETE', 'GET', 'HEAD', 'PATCH']],
        ['DELETE', '/', ['GET', 'HEAD']],
      ];
      for (const [method, url, allowed] of cases) {
        const response = await h.http.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${h.apiKey}` } });
        assert.equal(response.statusCode, 405, `${method} ${url}: ${response.body}`);
        assert.equal(response.json().error.code, 'method_not_allowed');
        assert.deepEqual(String(response.headers.allow).split(', ').sort(), allowed, `${method} ${url}`);
      }
      const unknown = await h.api('GET', '/v1/nothing-here');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'route_not_found');
      assert.equal(unknown.headers.allow, undefined);
    });

    test('the documented schemas cover every field the domain returns (serialization drops nothing)', async () => {
      const document = (await h.http.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDocument;
      const documented = (name: string): string[] => Object.keys(document.components.schemas[name]?.properties ?? {}).sort();
      const id = await h.connect('fields', 'fields');
      const { record, integration } = await h.tk.connections.get(id);
      const integrationRecord = (await h.tk.integrations.findByKey('sandbox'))!;
      const token = await h.tk.tokens.getToken(id);
      const shapes: [string, Record<string, unknown>][] = [
        ['Connection', connectionToJson(record, integration.record.key, integration.provider.key)],
        ['Integration', integrationToJson(integrationRecord, h.config.callbackUrl)],
        ['ApiKey', apiKeyToJson({ id: 'key_x', name: 'n', prefix: 'p', keyHash: 'h', createdAt: 0, lastUsedAt: null, revokedAt: null })],
        ['Token', tokenJson(token, h.clock.now())],
        ['OwnerToken', { ...tokenJson(token, h.clock.now()), source: 'owner' }],
        ['Alert', alertToJson(await h.tk.alerts.raise({ type: 'fields', key: 'k', severity: 'LOW', summary: 's' }), [])],
        ['Silence', silenceToJson(await h.tk.alerts.silence({ matchers: [{ name: 'type', value: 'fields' }], endsAt: h.clock.now() + 60_000, createdBy: 't' }), h.clock.now())],
        ['StuckConnection', stuckConnectionToJson({ id, state: 'needs_reauth', connectionId: id, integration: 'sandbox', provider: 'sandbox', ownerId: 'o', kind: 'user', severity: 'HIGH', terminal: true, since: 0, stuckForMs: 1, thresholdMs: 1, reason: null, action: 'a', reconnect: null })],
      ];
      for (const [name, shape] of shapes) {
        for (const field of Object.keys(shape)) assert.ok(documented(name).includes(field), `${name}.${field} is returned by the domain but not documented`);
      }
      const served = await h.api('GET', `/v1/connections/${id}`);
      assert.deepEqual(Object.keys(served.body).sort(), Object.keys(shapes[0]![1]).sort(), 'the served connection has every field');
      const key = (await h.api('GET', '/v1/api-keys')).body.data[0];
      assert.deepEqual(Object.keys(key).sort(), Object.keys(apiKeyToJson({ id: 'key_x', name: 'n', prefix: 'p', keyHash: 'h', createdAt: 0, lastUsedAt: null, revokedAt: null })).sort());
    });

    test('every documented operation answers what the document says (success and error answers)', async () => {
      const document = (await h.http.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDocument;
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      addFormats.default(ajv);
      ajv.addSchema(document as object, 'openapi');

      const connectionId = await h.connect('contract', 'carla');
      const doomedId = await h.connect('contract-doomed', 'dora');
      const created = await h.api('POST', '/v1/api-keys', { name: 'contract' });
      const webhook = (await h.tk.webhooks.create({ url: 'http://127.0.0.1:9/contract' })).record.id;
      const cron = { authorization: `Bearer ${CRON_SECRET}` };
      await h.tk.alerts.raise({ type: 'contract', key: 'k', severity: 'HIGH', labels: { integration: 'sandbox' }, summary: 'contract alert' });
      const silence = (await h.api('POST', '/v1/silences', { matchers: { type: 'other' }, ends_at: new Date(h.clock.now() + 3_600_000).toISOString() })).body;
      // A connect session started 31 minutes ago and never completed: stuck.
      const startedAt = h.clock.now() - 31 * 60_000;
      const integrationId = (await h.tk.integrations.findByKey('sandbox'))!.id;
      await insertConnectSession(h.tk.database.db, {
        id: newId('cs'), integrationId, ownerId: 'contract-stuck', kind: 'user', redirectTo: null, linkHash: hashSecret(newId('cs')), stateHash: null,
        codeVerifierSealed: null, nonce: null, expiresAt: startedAt + 600_000, openedAt: null, consumedAt: null, createdAt: startedAt,
      });
      const customIntegration = {
        key: 'contract-custom',
        provider: 'custom',
        client_id: 'c',
        client_secret: 'contract-secret',
        settings: { authorizationEndpoint: 'https://contract.test/authorize', tokenEndpoint: 'https://contract.test/token' },
      };
      const calls: { operationId: string; method: string; url: string; body?: unknown; headers?: Record<string, string> }[] = [
        { operationId: 'getHealth', method: 'GET', url: '/health' },
        { operationId: 'getReady', method: 'GET', url: '/ready' },
        { operationId: 'getMetrics', method: 'GET', url: '/metrics' },
        { operationId: 'listIntegrations', method: 'GET', url: '/v1/integrations' },
        { operationId: 'createIntegration', method: 'POST', url: '/v1/integrations', body: customIntegration },
        { operationId: 'createIntegration', method: 'POST', url: '/v1/integrations', body: customIntegration },
        { operationId: 'createIntegration', method: 'POST', url: '/v1/integrations', body: { key: 'x', provider: 'myspace', client_id: 'c' } },
        { operationId: 'getIntegration', method: 'GET', url: '/v1/integrations/contract-custom' },
        { operationId: 'getIntegration', method: 'GET', url: '/v1/integrations/nope' },
        { operationId: 'updateIntegration', method: 'PATCH', url: '/v1/integrations/contract-custom', body: { refresh_buffer_seconds: 90 } },
        { operationId: 'updateIntegration', method: 'PATCH', url: '/v1/integrations/contract-custom', body: { enabled: 'yes' } },
        { operationId: 'deleteIntegration', method: 'DELETE', url: '/v1/integrations/contract-custom' },
        { operationId: 'deleteIntegration', method: 'DELETE', url: '/v1/integrations/sandbox' },
        { operationId: 'getIntegrationToken', method: 'GET', url: '/v1/integrations/sandbox/token?owner_id=contract' },
        { operationId: 'getIntegrationToken', method: 'GET', url: '/v1/integrations/sandbox/token?owner_id=nobody&fallback=system&min_validity=60' },
        { operationId: 'getIntegrationToken', method: 'GET', url: '/v1/integrations/sandbox/token?owner_id=nobody' },
        { operationId: 'createConnectSession', method: 'POST', url: '/v1/connect/sessions', body: { integration: 'sandbox', owner_id: 'contract-2', redirect_to: 'http://app.test/back' } },
        { operationId: 'createConnectSession', method: 'POST', url: '/v1/connect/sessions', body: { integration: 'sandbox', owner_id: 'x', redirect_to: 'https://evil.test/' } },
        { operationId: 'listConnections', method: 'GET', url: '/v1/connections?integration=sandbox&kind=user&status=active&limit=1' },
        { operationId: 'listConnections', method: 'GET', url: '/v1/connections?status=weird' },
        { operationId: 'importConnection', method: 'POST', url: '/v1/connections', body: { integration: 'sandbox', owner_id: 'imported', account_id: 'a-1', access_token: 'imported-token', expires_in: 3600, metadata: { plan: 'pro' } } },
        { operationId: 'importConnection', method: 'POST', url: '/v1/connections', body: { integration: 'sandbox', owner_id: 'imported', account_id: 'a-1', access_token: 'imported-token-2' } },
        { operationId: 'importConnection', method: 'POST', url: '/v1/connections', body: { integration: 'nope', owner_id: 'imported', access_token: 't' } },
        { operationId: 'getConnection', method: 'GET', url: `/v1/connections/${connectionId}` },
        { operationId: 'getConnection', method: 'GET', url: '/v1/connections/con_aaaaaaaaaaaaaaaaaaaa' },
        { operationId: 'getConnectionToken', method: 'GET', url: `/v1/connections/${connectionId}/token?min_validity=30` },
        { operationId: 'getConnectionToken', method: 'GET', url: `/v1/connections/${connectionId}/token?min_validity=86400` },
        { operationId: 'refreshConnection', method: 'POST', url: `/v1/connections/${connectionId}/refresh` },
        { operationId: 'listConnectionEvents', method: 'GET', url: `/v1/connections/${connectionId}/events?limit=5` },
        { operationId: 'deleteConnection', method: 'DELETE', url: `/v1/connections/${doomedId}` },
        { operationId: 'deleteConnection', method: 'DELETE', url: '/v1/connections/bad' },
        { operationId: 'listActions', method: 'GET', url: '/v1/actions?integration=sandbox' },
        { operationId: 'listActions', method: 'GET', url: '/v1/actions?integration=nope' },
        { operationId: 'previewAction', method: 'POST', url: `/v1/connections/${connectionId}/actions/sandbox.notes.create/preview`, body: { title: 't', text: 'x' } },
        { operationId: 'previewAction', method: 'POST', url: `/v1/connections/${connectionId}/actions/sandbox.notes.create/preview`, body: { title: 7 } },
        { operationId: 'previewAction', method: 'POST', url: `/v1/connections/${connectionId}/actions/google.gmail.send/preview`, body: {} },
        { operationId: 'executeAction', method: 'POST', url: `/v1/connections/${connectionId}/actions/sandbox.notes.create/execute`, body: { title: 't', text: 'x' }, headers: { 'idempotency-key': 'contract-1' } },
        { operationId: 'executeAction', method: 'POST', url: `/v1/connections/${connectionId}/actions/sandbox.notes.create/execute`, body: { title: 't', text: 'other' }, headers: { 'idempotency-key': 'contract-1' } },
        { operationId: 'executeAction', method: 'POST', url: `/v1/connections/${connectionId}/actions/sandbox.notes.create/execute`, body: { input: { title: '' } } },
        { operationId: 'listApiKeys', method: 'GET', url: '/v1/api-keys' },
        { operationId: 'createApiKey', method: 'POST', url: '/v1/api-keys', body: { name: 'another' } },
        { operationId: 'revokeApiKey', method: 'DELETE', url: `/v1/api-keys/${created.body.id}` },
        { operationId: 'revokeApiKey', method: 'DELETE', url: '/v1/api-keys/key_aaaaaaaaaaaaaaaaaaaa' },
        { operationId: 'createWebhook', method: 'POST', url: '/v1/webhooks', body: { url: 'https://app.test/hooks', events: ['connection.created', 'connection.refreshed'] } },
        { operationId: 'createWebhook', method: 'POST', url: '/v1/webhooks', body: { url: 'ftp://app.test/hooks', events: ['connection.refresh'] } },
        { operationId: 'listWebhooks', method: 'GET', url: '/v1/webhooks' },
        { operationId: 'getWebhook', method: 'GET', url: `/v1/webhooks/${webhook}` },
        { operationId: 'getWebhook', method: 'GET', url: '/v1/webhooks/whk_aaaaaaaaaaaaaaaaaaaa' },
        { operationId: 'listWebhookDeliveries', method: 'GET', url: `/v1/webhooks/${webhook}/deliveries?status=pending&limit=5` },
        { operationId: 'retryWebhookDelivery', method: 'POST', url: `/v1/webhooks/${webhook}/deliveries/dlv_aaaaaaaaaaaaaaaaaaaa/retry` },
        { operationId: 'deleteWebhook', method: 'DELETE', url: `/v1/webhooks/${webhook}` },
        { operationId: 'deleteWebhook', method: 'DELETE', url: `/v1/webhooks/${webhook}` },
        { operationId: 'listAlerts', method: 'GET', url: '/v1/alerts?state=firing&severity=HIGH' },
        { operationId: 'listAlerts', method: 'GET', url: '/v1/alerts?since=yesterday' },
        { operationId: 'getAlertStats', method: 'GET', url: '/v1/alerts/stats?hours=24' },
        { operationId: 'getAlertStats', method: 'GET', url: '/v1/alerts/stats?hours=0' },
        { operationId: 'testAlertChannels', method: 'POST', url: '/v1/alerts/test' },
        { operationId: 'listSilences', method: 'GET', url: '/v1/silences?state=active' },
        { operationId: 'createSilence', method: 'POST', url: '/v1/silences', body: { matchers: { labels: { integration: 'sandbox' } }, ends_at: '2099-01-01T00:00:00Z', comment: 'contract' } },
        { operationId: 'createSilence', method: 'POST', url: '/v1/silences', body: { matchers: {}, ends_at: '2099-01-01T00:00:00Z' } },
        { operationId: 'expireSilence', method: 'DELETE', url: `/v1/silences/${silence.id}` },
        { operationId: 'expireSilence', method: 'DELETE', url: '/v1/silences/sil_aaaaaaaaaaaaaaaaaaaa' },
        { operationId: 'silenceAllAlerts', method: 'POST', url: '/v1/silences/all', body: { ends_at: '2099-01-01T00:00:00Z' } },
        { operationId: 'restoreAlerts', method: 'DELETE', url: '/v1/silences/all' },
        { operationId: 'listStuckConnections', method: 'GET', url: '/v1/stuck?terminal=false' },
        { operationId: 'listStuckConnections', method: 'GET', url: '/v1/stuck?severity=urgent' },
        { operationId: 'runCronJob', method: 'POST', url: '/v1/cron/cleanup', headers: cron },
        { operationId: 'runCronJob', method: 'POST', url: '/v1/cron/nope', headers: cron },
        { operationId: 'runCronJob', method: 'POST', url: '/v1/cron/refresh', headers: { authorization: 'Bearer wrong' } },
        { operationId: 'runCronJobByGet', method: 'GET', url: '/v1/cron/cleanup', headers: cron },
        { operationId: 'runCronJobByGet', method: 'GET', url: '/v1/cron/cleanup', headers: { authorization: 'Bearer wrong' } },
        { operationId: 'listIntegrations', method: 'GET', url: '/v1/integrations', headers: { authorization: 'Bearer wrong' } },
      ];

      const operations = new Map<string, { path: string; method: string; responses: OpenApiDocument['paths'][string][string]['responses'] }>();
      for (const [path, item] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(item)) operations.set(operation.operationId, { path, method, responses: operation.responses });
      }
      assert.deepEqual([...new Set(calls.map((call) => call.operationId))].sort(), [...operations.keys()].sort(), 'every documented operation is called');

      const statusesSeen = new Set<string>();
      for (const call of calls) {
        const operation = operations.get(call.operationId)!;
        const response = await h.api(call.method, call.url, call.body, call.headers);
        const what = `${call.method} ${call.url} → ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`;
        const documented = operation.responses[String(response.status)];
        assert.ok(documented, `${what}: status not documented`);
        statusesSeen.add(`${call.operationId} ${response.status}`);
        const contentType = String(response.headers['content-type'] ?? '').split(';')[0]!;
        if (response.status === 204) continue;
        assert.ok(documented.content?.[contentType], `${what}: content type ${contentType} not documented`);
        if (contentType !== 'application/json') continue;
        const pointer = `openapi#/paths/${operation.path.replaceAll('~', '~0').replaceAll('/', '~1')}/${operation.method}/responses/${response.status}/content/application~1json/schema`;
        const validate = ajv.getSchema(pointer);
        assert.ok(validate, pointer);
        assert.ok(validate(response.body), `${what}: ${ajv.errorsText(validate.errors)}`);
      }
      // The calls above reach success and error answers alike: a schema that only fits one of them would fail.
      for (const expected of ['createIntegration 201', 'createIntegration 409', 'importConnection 201', 'importConnection 200', 'getConnection 404', 'listIntegrations 401', 'deleteIntegration 204', 'createSilence 201', 'expireSilence 404', 'executeAction 200', 'executeAction 422', 'previewAction 404']) {
        assert.ok(statusesSeen.has(expected), expected);
      }
    });

    test('no secret is added to an answer by serialization', async () => {
      const created = await h.api('POST', '/v1/integrations', {
        key: 'secretive', provider: 'custom', client_id: 'c', client_secret: 'the-client-secret',
        settings: { authorizationEndpoint: 'https://s.test/authorize', tokenEndpoint: 'https://s.test/token' },
      });
      assert.equal(created.status, 201);
      const id = await h.connect('no-secrets', 'nora');
      const { record } = await h.tk.connections.get(id);
      const tokens = h.tk.tokens.peekTokens(record)!;
      const answers = [
        created.body,
        (await h.api('GET', '/v1/integrations')).body,
        (await h.api('GET', `/v1/connections/${id}`)).body,
        (await h.api('GET', '/v1/connections')).body,
        (await h.api('GET', '/v1/api-keys')).body,
      ];
      const text = JSON.stringify(answers);
      for (const secret of ['the-client-secret', tokens.access_token, tokens.refresh_token!, h.apiKey]) assert.equal(text.includes(secret), false);
    });
  });
}
