import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

for (const dialect of testDialects()) {
  describe(`an integration's rateLimit setting overrides the catalog's (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('concurrency 1, 6 per minute: one token request in flight at a time; over budget a typed error, no provider call', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await h.connect(`rate-${i}`, `rate${i}`));
      // The catalog's sandbox limit (6000/min, 50 at once) carried the connects above; the
      // override must reach the limiter of this already-used integration.
      await h.tk.integrations.update('sandbox', {
        settings: { issuer: h.sandbox.issuer, rateLimit: { requestsPerMinute: 6, concurrency: 1 } },
      });
      h.sandbox.setFaults({ latencyMs: 100 });
      h.sandbox.resetStats();

      let settled = false;
      const answers = Promise.all(ids.map((id) => h.api('POST', `/v1/connections/${id}/refresh`))).finally(() => {
        settled = true;
      });
      // The limiter's wait bound runs on the manual clock: move it on until every caller has an answer.
      while (!settled) {
        await sleep(50);
        h.clock.advance(2_001);
      }
      const responses = await answers;

      const ok = responses.filter((response) => response.status === 200);
      const limited = responses.filter((response) => response.status === 503 && response.body.error.code === 'provider_unavailable');
      assert.equal(ok.length + limited.length, responses.length, JSON.stringify(responses.map((response) => response.body)));
      assert.ok(ok.length >= 1, 'the first refresh goes out');
      assert.ok(limited.length >= 1, 'callers over the budget get provider_unavailable');
      const stats = h.sandbox.stats();
      assert.equal(stats.byGrantType.refresh_token ?? 0, ok.length, 'a refused caller made no provider call');
      assert.equal(stats.maxInFlight, 1, 'never more than one token request at the provider at once');
      h.sandbox.resetFaults();
    });

    test('bad rateLimit values: 400 invalid_request naming each problem, nothing written', async () => {
      const before = await h.api('GET', '/v1/integrations/sandbox');
      const response = await h.api('PATCH', '/v1/integrations/sandbox', {
        settings: { issuer: h.sandbox.issuer, rateLimit: { requestsPerMinute: 0, concurrency: 1.5, burst: 3 } },
      });
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.error.code, 'invalid_request');
      const text = JSON.stringify(response.body.error);
      assert.match(text, /rateLimit\.requestsPerMinute/);
      assert.match(text, /rateLimit\.concurrency/);
      assert.match(text, /rateLimit\.burst/);

      const notObject = await h.api('PATCH', '/v1/integrations/sandbox', { settings: { issuer: h.sandbox.issuer, rateLimit: 10 } });
      assert.equal(notObject.status, 400);
      assert.match(JSON.stringify(notObject.body.error), /rateLimit must be an object/);

      const typo = await h.api('PATCH', '/v1/integrations/sandbox', { settings: { issuer: h.sandbox.issuer, rateLimits: {} } });
      assert.equal(typo.status, 400);
      assert.match(JSON.stringify(typo.body.error), /did you mean \\"rateLimit\\"/);

      const unchanged = await h.api('GET', '/v1/integrations/sandbox');
      assert.deepEqual(unchanged.body.settings, before.body.settings);
    });
  });
}
