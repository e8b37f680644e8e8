import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { ProxyService } from '../src/proxy/index.ts';
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

    test("a catalog default carries an app's proxy traffic: 30 Slack calls at once all reach the provider", async () => {
      // A stand-in for slack.com/api that answers only once all 30 calls are in flight (or after
      // 2 s), so each call holds its permit while the others ask. Slack's old default (100/min,
      // 5 at once) let 5 through and refused the rest.
      const calls = 30;
      const held: ServerResponse[] = [];
      let inFlight = 0;
      let mostInFlight = 0;
      const answerAll = (): void => {
        for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      };
      const giveUp = setTimeout(answerAll, 2_000);
      const upstream = createServer((req, res) => {
        req.resume();
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        res.on('finish', () => inFlight--);
        held.push(res);
        if (held.length === calls) answerAll();
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      // The service's own wiring, with no wait for the limiter: a call without a permit at once is refused.
      const proxy = new ProxyService({ ...h.tk, guard: h.tk.tokens.guard, config: h.config.proxy, rateLimitWaitMs: 0 });
      try {
        const created = await h.api('POST', '/v1/integrations', {
          key: 'slack-app', provider: 'slack', client_id: 'c', client_secret: 's',
          settings: { authorizationEndpoint: `${url}/authorize`, tokenEndpoint: `${url}/token`, apiBaseUrl: url },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const workspaces: string[] = [];
        for (let i = 0; i < 3; i++) {
          const imported = await h.api('POST', '/v1/connections', { integration: 'slack-app', owner_id: `w-${i}`, account_id: `T${i}:U${i}`, access_token: `xoxb-${i}`, expires_in: 3600 });
          assert.equal(imported.status, 201, JSON.stringify(imported.body));
          workspaces.push(imported.body.id);
        }
        const answers = await Promise.allSettled(
          Array.from({ length: calls }, async (_, i) => {
            const response = await proxy.fetch(workspaces[i % workspaces.length]!, '/conversations.list');
            await response.arrayBuffer();
            return response.status;
          }),
        );
        const refused = answers.filter((answer) => answer.status === 'rejected').map((answer) => (answer as PromiseRejectedResult).reason?.code);
        assert.deepEqual(refused, [], 'no call refused by the integration’s own limit');
        assert.equal(mostInFlight, calls, 'all of them at the provider at once');
      } finally {
        clearTimeout(giveUp);
        answerAll();
        proxy.close();
        upstream.closeAllConnections();
        await new Promise((resolve) => upstream.close(resolve));
      }
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
