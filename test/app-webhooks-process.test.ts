/**
 * Invariant 11 across a crash: a real `tokenkeeper serve` is killed (SIGKILL) between state
 * changes and their webhooks' delivery, and the events are delivered after the restart, once.
 * The receiver (TOKENKEEPER_APP_WEBHOOK_URL) holds the first attempt unanswered — the
 * `connection.created` of the sandbox's system connection, minted at start-up — so the process
 * dies with that delivery claimed and in flight, and with the `connection.created` of a
 * connection imported meanwhile still waiting behind it in the outbox. After the restart the
 * claim lapses and both are sent (the first again, with the same `webhook-id`), each answered
 * once, and nothing is sent after that.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ENVIRONMENT_WEBHOOK_ID, generateWebhookSecret, verifyWebhook } from '../src/delivery/index.ts';
import { cleanUpServes, spawnServe, standaloneSetup } from './helpers/serve-process.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

after(cleanUpServes);

interface Request {
  webhookId: string;
  raw: string;
  verified: boolean;
  answered: boolean;
}

for (const dialect of testDialects()) {
  test(`a serve killed between a change and its webhook delivers the event after the restart, once (${dialect})`, { timeout: 180_000 }, async () => {
    const secret = generateWebhookSecret();
    const requests: Request[] = [];
    const held: ServerResponse[] = [];
    let hang = true;
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let verified = false;
        try {
          verifyWebhook(secret, request.headers as Record<string, string>, raw);
          verified = true;
        } catch {
          // recorded as not verified
        }
        requests.push({ webhookId: String(request.headers['webhook-id']), raw, verified, answered: !hang });
        if (hang) held.push(response);
        else response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const setup = await standaloneSetup(dialect);
      const env = {
        ...setup.env,
        TOKENKEEPER_APP_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
        TOKENKEEPER_APP_WEBHOOK_SECRET: secret,
        // An attempt's claim lasts its timeout and a few seconds: short, so the restart's wait is.
        TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS: '2000',
        TOKENKEEPER_LOG_FORMAT: 'json',
      };
      const first = spawnServe({ env, name: 'serve-1' });
      // The banner comes once start-up is done, the development API key written.
      await first.waitForBanner();
      const apiKey = readFileSync(join(setup.dataDir, 'dev-api-key'), 'utf8').trim();
      const api = (server: { url: string }, method: string, path: string, body?: unknown) =>
        fetch(`${server.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        }).then(async (response) => ({ status: response.status, body: (await response.json()) as any }));

      // The state change: a connection is created (its event committed with it).
      const imported = await api(first, 'POST', '/v1/connections', { integration: 'sandbox', owner_id: 'crash-owner', access_token: 'imported-access-token' });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      await until(() => requests.length === 1, 'the first attempt to reach the receiver', 30_000);
      // Killed while the receiver holds that attempt: never answered, never recorded.
      await first.kill();
      for (const response of held.splice(0)) response.destroy();
      assert.equal(requests[0]!.answered, false);
      assert.equal((JSON.parse(requests[0]!.raw) as { data: { connection: { kind: string } } }).data.connection.kind, 'system', 'the system connection minted at start-up');

      hang = false;
      const second = spawnServe({ env, name: 'serve-2' });
      await second.waitForBanner();
      const answered = () => requests.filter((request) => request.answered);
      const ofConnection = (request: Request, id: string) => (JSON.parse(request.raw) as { data: { connection?: { id: string } } }).data.connection?.id === id;
      await until(
        () => answered().some((request) => request.webhookId === requests[0]!.webhookId) && answered().some((request) => ofConnection(request, imported.body.id)),
        'the events to be delivered after the restart',
        60_000,
      );
      const delivered = answered().find((request) => ofConnection(request, imported.body.id))!;
      const body = JSON.parse(delivered.raw) as { id: string; type: string; data: { connection: { id: string; owner_id: string } } };
      assert.equal(body.type, 'connection.created');
      assert.equal(body.data.connection.owner_id, 'crash-owner');
      assert.equal(delivered.webhookId, body.id);
      assert.doesNotMatch(delivered.raw, /imported-access-token/);
      // The attempt the crash cut off is sent again with the same webhook-id (the receiver drops
      // the duplicate by it), and signed with TOKENKEEPER_APP_WEBHOOK_SECRET like every request.
      assert.ok(requests.every((request) => request.verified));

      const log = async () => (await api(second, 'GET', `/v1/webhooks/${ENVIRONMENT_WEBHOOK_ID}/deliveries`)).body.data as { event_id: string; status: string; attempts: number }[];
      await until(async () => (await log()).every((entry) => entry.status === 'delivered'), 'every delivery to be recorded', 30_000);
      // Long enough for the `webhooks` job (every 5 s) to run twice more: nothing is sent again.
      const count = requests.length;
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      assert.equal(requests.length, count, 'nothing more is sent');
      const ids = answered().map((request) => request.webhookId);
      assert.equal(new Set(ids).size, ids.length, 'each event answered once after the restart');
      const entries = await log();
      assert.deepEqual(entries.map((entry) => entry.event_id).sort(), [...new Set(requests.map((request) => request.webhookId))].sort(), 'one delivery per event');
      assert.ok(entries.every((entry) => entry.attempts === 1), 'the attempt the crash cut off was never recorded');
      assert.equal((await second.stop()).code, 0);
    } finally {
      for (const response of held.splice(0)) response.destroy();
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
}
