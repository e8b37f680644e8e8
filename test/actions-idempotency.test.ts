/**
 * Exactly once for the caller (issue 9, item 9): an execute with an Idempotency-Key keeps its
 * outcome 24 h, and a retry with the key (concurrent, later, or at another instance — a real
 * `tokenkeeper serve` on the same storage) gets that outcome without a second send. Also the
 * name kill switch (TOKENKEEPER_ACTIONS_DISABLED), which needs its own service.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { IdempotentExecutions } from '../src/actions/index.ts';
import { spawnServeBeside } from './helpers/cluster.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { cleanUpServes } from './helpers/serve-process.ts';
import { testDialects } from './helpers/test-database.ts';

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

/** Slack's chat.postMessage stand-in: counts what arrives, answers after an optional delay. */
async function slackServer() {
  const received: Array<{ url: string; body: string }> = [];
  let reply: () => Reply = () => ({ status: 200, body: JSON.stringify({ ok: true, channel: 'C1', ts: `${Date.now()}.0001` }) });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      const answer = reply();
      setTimeout(() => {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body);
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    answer: (next: () => Reply) => (reply = next),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const ok = (ts: string, delayMs = 0): Reply => ({ status: 200, body: JSON.stringify({ ok: true, channel: 'C1', ts }), delayMs });

for (const dialect of testDialects()) {
  describe(`actions: Idempotency-Key (${dialect})`, () => {
    let h: Harness;
    let slack: Awaited<ReturnType<typeof slackServer>>;
    let connection: string;
    let keys = 0;
    const newKey = () => `key-${dialect}-${(keys += 1)}-${Date.now()}`;
    const execute = (input: Record<string, unknown>, key?: string) =>
      h.api('POST', `/v1/connections/${connection}/actions/slack.chat.post_message/execute`, input, key === undefined ? {} : { 'idempotency-key': key });

    before(async () => {
      h = await startHarness({ dialect, env: { TOKENKEEPER_PROXY_TIMEOUT_MS: '3000', TOKENKEEPER_PROXY_MAX_RETRIES: '1', TOKENKEEPER_PROXY_MAX_RETRY_WAIT: '1' } });
      slack = await slackServer();
      assert.equal((await h.api('POST', '/v1/integrations', { key: 'slack', provider: 'slack', client_id: 'c', client_secret: 's', settings: { apiBaseUrl: slack.url } })).status, 201);
      const imported = await h.api('POST', '/v1/connections', { integration: 'slack', owner_id: 'u', account_id: 'T1', access_token: 'xoxp-token', expires_in: 30 * 86_400 });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      connection = imported.body.id;
    });

    beforeEach(() => {
      slack.received.length = 0;
      slack.answer(() => ok('1.0001'));
    });

    after(async () => {
      await cleanUpServes();
      await h?.close();
      await slack?.close();
    });

    // First, while the harness's manual clock still agrees with the other process's real one.
    test('two instances with one key: one send, the same answer at both', async () => {
      const serve = await spawnServeBeside(h);
      try {
        await serve.waitForReady({ path: '/health' });
        slack.answer(() => ok('444.0001', 400));
        const key = newKey();
        const viaServe = () =>
          fetch(`${serve.url}/v1/connections/${connection}/actions/slack.chat.post_message/execute`, {
            method: 'POST',
            headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', 'idempotency-key': key },
            body: JSON.stringify({ channel: 'C1', text: 'across' }),
          }).then(async (response) => ({ status: response.status, body: (await response.json()) as any }));
        const answers = await Promise.all([viaServe(), execute({ channel: 'C1', text: 'across' }, key), viaServe(), execute({ channel: 'C1', text: 'across' }, key)]);
        assert.equal(slack.received.length, 1, 'sent once across both instances');
        for (const answer of answers) {
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          assert.equal(answer.body.result.ts, '444.0001');
        }
      } finally {
        await serve.stop();
      }
    });
    test('ten concurrent executes with one key send once and all get the same answer', async () => {
      slack.answer(() => ok('111.0001', 300));
      const key = newKey();
      const answers = await Promise.all(Array.from({ length: 10 }, () => execute({ channel: 'C1', text: 'deploy done' }, key)));
      assert.equal(slack.received.length, 1, 'one message posted');
      for (const answer of answers) {
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.result.ts, '111.0001');
      }
      assert.equal(answers.filter((answer) => answer.headers['idempotent-replayed'] === 'true').length, 9);
      assert.equal(answers.filter((answer) => answer.body.replayed === true).length, 9);

      const later = await execute({ channel: 'C1', text: 'deploy done' }, key);
      assert.equal(later.status, 200);
      assert.equal(later.body.replayed, true);
      assert.equal(slack.received.length, 1, 'still once');
      await h.tk.events.settled();
      const events = (await h.api('GET', `/v1/connections/${connection}/events?limit=20`)).body.data.filter((event: { type: string }) => event.type === 'action.executed');
      assert.equal(events.filter((event: { data: { replayed: boolean } }) => event.data.replayed === false).length >= 1, true);
      assert.equal(events[0].data.replayed, true, 'a replay is recorded as one');
    });

    test('the same key with another input is 422 idempotency_key_reused and sends nothing', async () => {
      const key = newKey();
      assert.equal((await execute({ channel: 'C1', text: 'first' }, key)).status, 200);
      const reused = await execute({ channel: 'C1', text: 'second' }, key);
      assert.equal(reused.status, 422, JSON.stringify(reused.body));
      assert.equal(reused.body.error.code, 'idempotency_key_reused');
      assert.equal(slack.received.length, 1);
      const reordered = await execute({ text: 'first', channel: 'C1' }, key);
      assert.equal(reordered.status, 200, 'the same input in another key order is the same request');
    });

    test('a key is scoped to the connection and action, and a malformed key is 400', async () => {
      const bad = await execute({ channel: 'C1', text: 'x' }, 'ключ');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_request');
      assert.equal(slack.received.length, 0);
    });

    test('a provider failure is kept for the key: the retry gets it again without sending', async () => {
      slack.answer(() => ({ status: 500, body: JSON.stringify({ ok: false, error: 'fatal_error' }) }));
      const key = newKey();
      const first = await execute({ channel: 'C1', text: 'x' }, key);
      assert.equal(first.body.error.details.outcome, 'provider_error', JSON.stringify(first.body));
      slack.answer(() => ok('2.0001'));
      const again = await execute({ channel: 'C1', text: 'x' }, key);
      assert.equal(again.status, first.status);
      assert.equal(again.body.error.code, first.body.error.code);
      assert.equal(again.body.error.details.outcome, 'provider_error');
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(slack.received.length, 1, 'not sent again');
    });

    test('a 429 is retried with the key (Retry-After), and when it persists the key is given back', async () => {
      slack.answer(() => ({ status: 429, body: JSON.stringify({ ok: false, error: 'ratelimited' }), headers: { 'retry-after': '0' } }));
      const key = newKey();
      const limited = await execute({ channel: 'C1', text: 'x' }, key);
      assert.equal(limited.body.error.details.outcome, 'rate_limited', JSON.stringify(limited.body));
      assert.equal(slack.received.length, 2, 'a POST with a key is retried once (TOKENKEEPER_PROXY_MAX_RETRIES=1)');
      slack.answer(() => ok('3.0001'));
      const retried = await execute({ channel: 'C1', text: 'x' }, key);
      assert.equal(retried.status, 200, 'the provider did not act on a 429: the key runs again');
      assert.equal(retried.body.replayed, false);
      assert.equal(slack.received.length, 3);
    });

    test('an execution whose instance died leaves a claim that is closed as timeout, never sent again', async () => {
      const key = newKey();
      // What a dead instance leaves: a claim, with a short life here so the test need not wait.
      const dead = new IdempotentExecutions({ db: h.tk.database.db, keyRing: h.tk.keyRing, clock: h.clock, claimTtlMs: 1_000 });
      const begun = await dead.begin({ connectionId: connection, action: 'slack.chat.post_message', key, input: { channel: 'C1', text: 'x' } });
      assert.ok('run' in begun);
      h.clock.advance(2_000);
      const after = await execute({ channel: 'C1', text: 'x' }, key);
      assert.equal(after.status, 504, JSON.stringify(after.body));
      assert.equal(after.body.error.details.outcome, 'timeout');
      assert.equal(after.headers['idempotent-replayed'], 'true');
      assert.equal(slack.received.length, 0);
    });

    test('kept 24 hours: after that the key is new again', async () => {
      const key = newKey();
      const first = await execute({ channel: 'C1', text: 'x' }, key);
      assert.equal(first.body.replayed, false, JSON.stringify(first.body));
      h.clock.advance(23 * 3_600_000);
      assert.equal((await execute({ channel: 'C1', text: 'x' }, key)).body.replayed, true);
      h.clock.advance(3_600_000 + 1);
      assert.equal((await execute({ channel: 'C1', text: 'x' }, key)).body.replayed, false);
      assert.equal(slack.received.length, 2);
      // The cleanup job removes what has expired.
      h.clock.advance(25 * 3_600_000);
      await h.tk.jobs.run('cleanup');
      const left = await h.tk.database.db.selectFrom('action_executions').select('id').execute();
      assert.equal(left.length, 0);
    });

  });
}

describe('actions: TOKENKEEPER_ACTIONS_DISABLED', () => {
  let h: Harness;
  let connection: string;

  before(async () => {
    h = await startHarness({ env: { TOKENKEEPER_ACTIONS_DISABLED: 'sandbox.notes.create' } });
    connection = await h.connect('disabled-user', 'pat');
  });

  after(async () => {
    await h?.close();
  });

  test('a disabled name answers 501 action_disabled, sends nothing, and is listed as disabled', async () => {
    const executed = await h.api('POST', `/v1/connections/${connection}/actions/sandbox.notes.create/execute`, { title: 't', text: 'x' });
    assert.equal(executed.status, 501, JSON.stringify(executed.body));
    assert.equal(executed.body.error.code, 'action_disabled');
    assert.equal(executed.body.error.details.disabled_by, 'name');
    const notes = await h.api('GET', `/v1/proxy/${connection}/notes`);
    assert.deepEqual(notes.body.notes, [], 'no note was created');
    const listed = await h.api('GET', '/v1/actions');
    assert.equal(listed.body.data.find((action: { name: string }) => action.name === 'sandbox.notes.create').enabled, false);
    await h.tk.events.settled();
    const events = (await h.api('GET', `/v1/connections/${connection}/events`)).body.data.filter((event: { type: string }) => event.type === 'action.executed');
    assert.equal(events[0].data.outcome, 'action_disabled');
  });
});
