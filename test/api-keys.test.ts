/**
 * API keys through the API: list, create (shown once), revoke. A key revoked through this
 * instance is refused at once, even though verified keys are cached; the cache's lifetime runs
 * on the injected clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildHttpApp, createApiKey, revokeApiKeyById } from '../src/http/index.ts';
import { createTokenkeeper } from '../src/service.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

for (const dialect of testDialects()) {
  describe(`API keys over the API (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    const withKey = (key: string, method: string, url: string, body?: unknown) => h.api(method, url, body, { authorization: `Bearer ${key}` });

    test('create shows the key once; list never shows a key or its hash', async () => {
      const created = await h.api('POST', '/v1/api-keys', { name: 'billing service' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(Object.keys(created.body).sort(), ['created_at', 'id', 'key', 'last_used_at', 'name', 'prefix', 'revoked_at']);
      assert.match(created.body.id, /^key_[a-z2-7]{20}$/);
      assert.match(created.body.key, /^tk_/);
      assert.equal(created.body.name, 'billing service');
      assert.equal(created.body.prefix, created.body.key.slice(0, 10));
      assert.equal(created.body.revoked_at, null);
      assert.equal(created.headers['cache-control'], 'no-store');

      assert.equal((await withKey(created.body.key, 'GET', '/v1/connections')).status, 200, 'the new key works');

      // `last_used_at` is written beside the request, not on its path: it lands moments later.
      let listed = await h.api('GET', '/v1/api-keys');
      await until(async () => {
        listed = await h.api('GET', '/v1/api-keys');
        return listed.body.data.find((k: { id: string }) => k.id === created.body.id)?.last_used_at !== null;
      }, 'last_used_at to be written', 5_000);
      assert.equal(listed.status, 200);
      const entry = listed.body.data.find((k: { id: string }) => k.id === created.body.id);
      assert.deepEqual(Object.keys(entry).sort(), ['created_at', 'id', 'last_used_at', 'name', 'prefix', 'revoked_at']);
      assert.match(entry.last_used_at, /^\d{4}-/, 'last use is recorded');
      const text = JSON.stringify(listed.body);
      assert.ok(!text.includes(created.body.key), 'never the key');
      assert.ok(!text.includes(h.apiKey), 'never the harness key either');
      assert.doesNotMatch(text, /hash/);
    });

    test('DELETE revokes, and the revoked key is refused at once on this instance', async () => {
      const created = await h.api('POST', '/v1/api-keys', { name: 'to revoke' });
      const key = created.body.key as string;
      // Use it first, so it sits in the verified-key cache.
      assert.equal((await withKey(key, 'GET', '/v1/connections')).status, 200);
      const revoked = await h.api('DELETE', `/v1/api-keys/${created.body.id}`);
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      assert.equal(revoked.body.id, created.body.id);
      assert.match(revoked.body.revoked_at, /^\d{4}-/);
      const refused = await withKey(key, 'GET', '/v1/connections');
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, 'unauthorized');

      // DELETE is idempotent: again answers the same revocation.
      const again = await h.api('DELETE', `/v1/api-keys/${created.body.id}`);
      assert.equal(again.status, 200);
      assert.equal(again.body.revoked_at, revoked.body.revoked_at);
      const listed = await h.api('GET', '/v1/api-keys');
      assert.equal(listed.body.data.find((k: { id: string }) => k.id === created.body.id).revoked_at, revoked.body.revoked_at);
    });

    test('a key may revoke itself; its next request is refused', async () => {
      const created = await h.api('POST', '/v1/api-keys', { name: 'self' });
      const key = created.body.key as string;
      const revoked = await withKey(key, 'DELETE', `/v1/api-keys/${created.body.id}`);
      assert.equal(revoked.status, 200);
      assert.equal((await withKey(key, 'GET', '/v1/api-keys')).status, 401);
      assert.equal((await h.api('GET', '/v1/api-keys')).status, 200, 'other keys are untouched');
    });

    test('bad input gets a 4xx with a stable code and creates nothing', async () => {
      const before = (await h.api('GET', '/v1/api-keys')).body.data.length;
      const cases: [string, string, unknown, number, string][] = [
        ['DELETE', '/v1/api-keys/not-an-id', undefined, 400, 'invalid_id'],
        ['DELETE', '/v1/api-keys/con_aaaaaaaaaaaaaaaaaaaa', undefined, 400, 'invalid_id'],
        ['DELETE', '/v1/api-keys/key_aaaaaaaaaaaaaaaaaaaa', undefined, 404, 'api_key_not_found'],
        ['POST', '/v1/api-keys', {}, 400, 'invalid_request'],
        ['POST', '/v1/api-keys', { name: '' }, 400, 'invalid_request'],
        ['POST', '/v1/api-keys', { name: 'x'.repeat(101) }, 400, 'invalid_request'],
        ['POST', '/v1/api-keys', { name: 'line\nbreak' }, 400, 'invalid_request'],
        ['POST', '/v1/api-keys', { name: 7 }, 400, 'invalid_request'],
        ['POST', '/v1/api-keys', { name: 'ok', scopes: ['all'] }, 400, 'invalid_request'],
        ['POST', '/v1/api-keys', [], 400, 'invalid_request'],
        ['POST', '/v1/api-keys', '{"name":', 400, 'invalid_json'],
        ['POST', '/v1/api-keys', undefined, 400, 'invalid_request'],
      ];
      for (const [method, url, body, status, code] of cases) {
        const response = await h.api(method, url, body);
        assert.equal(response.status, status, `${method} ${url} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, code, `${method} ${url} ${JSON.stringify(body)}`);
      }
      assert.equal((await h.api('GET', '/v1/api-keys')).body.data.length, before);
      for (const [method, url] of [['GET', '/v1/api-keys'], ['POST', '/v1/api-keys'], ['DELETE', '/v1/api-keys/key_aaaaaaaaaaaaaaaaaaaa']]) {
        const response = await h.http.app.inject({ method: method as 'GET', url });
        assert.equal(response.statusCode, 401, `${method} ${url} needs an API key`);
      }
    });

    test('the OpenAPI document lists the API-key operations', async () => {
      const document = (await h.http.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      assert.ok(document.paths['/v1/api-keys'].get);
      assert.ok(document.paths['/v1/api-keys'].post);
      assert.ok(document.paths['/v1/api-keys/{id}'].delete);
    });
  });

  describe(`the verified-key cache (${dialect})`, () => {
    test('runs on the injected clock: a key revoked elsewhere is refused once the cache entry expires', async (t) => {
      const h = await startHarness({ dialect });
      t.after(() => h.close());
      const { key, record } = await createApiKey(h.tk.database.db, h.clock, 'cli-revoked');
      const call = () => h.api('GET', '/v1/connections', undefined, { authorization: `Bearer ${key}` });
      assert.equal((await call()).status, 200);
      // Revoked by another process (the CLI): this instance learns of it when its cache entry lapses.
      await revokeApiKeyById(h.tk.database.db, h.clock, record.id);
      h.clock.advance(31_000);
      assert.equal((await call()).status, 401);
    });

    test('a key revoked through another instance is refused here within one second', async (t) => {
      const h = await startHarness({ dialect });
      const other = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger });
      const otherHttp = await buildHttpApp(other);
      t.after(async () => {
        await otherHttp.app.close();
        await other.close();
        await h.close();
      });
      const { key, record } = await createApiKey(h.tk.database.db, h.clock, 'revoked-elsewhere');
      const call = () => h.api('GET', '/v1/connections', undefined, { authorization: `Bearer ${key}` });
      assert.equal((await call()).status, 200, 'verified and cached on this instance');
      const revoked = await otherHttp.app.inject({ method: 'DELETE', url: `/v1/api-keys/${record.id}`, headers: { authorization: `Bearer ${h.apiKey}` } });
      assert.equal(revoked.statusCode, 200);
      h.clock.advance(1_001);
      assert.equal((await call()).status, 401);
    });

    test('a verification racing a revocation does not put the revoked key back into the cache', async (t) => {
      const h = await startHarness({ dialect });
      t.after(() => h.close());
      const { key, record } = await createApiKey(h.tk.database.db, h.clock, 'racing');
      // A verification starts and reads the key while it is still active…
      const inFlight = h.http.apiKeys.verify(key);
      // …and before it finishes, the key is revoked and dropped from the cache.
      h.http.apiKeys.forget(record.id);
      await revokeApiKeyById(h.tk.database.db, h.clock, record.id);
      assert.equal(await inFlight, record.id, 'that request was already under way');
      assert.equal(await h.http.apiKeys.verify(key), null, 'but its result was not cached past the revocation');
    });
  });
}
