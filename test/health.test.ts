import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHarness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

for (const dialect of testDialects()) {
  test(`/health answers 200 with the version, and 503 when storage is unreachable (${dialect})`, async () => {
    const h = await startHarness({ dialect });
    try {
      const ok = await h.http.app.inject({ method: 'GET', url: '/health' });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.json().storage.status, 'ok');
      assert.match(ok.json().version, /^\d+\.\d+\.\d+$/);
      await h.tk.database.close();
      const down = await h.http.app.inject({ method: 'GET', url: '/health' });
      assert.equal(down.statusCode, 503);
      assert.equal(down.json().status, 'unavailable');
      const api = await h.api('GET', '/v1/connections');
      assert.equal(api.status, 503, JSON.stringify(api.body));
      assert.equal(api.body.error.code, 'storage_unavailable');
    } finally {
      await h.close();
    }
  });
}
