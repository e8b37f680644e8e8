/**
 * Webhooks to the application (issue 8, item 5): the application hears of its connections
 * without polling. Real parts only: the sandbox provider over HTTP, SQLite and PostgreSQL, and a
 * local HTTP receiver that verifies every request's Standard Webhooks signature with
 * `verifyWebhook` (src/delivery/standard-webhooks.ts), as an application would.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { runCli } from '../src/cli/index.ts';
import { rotateSealedValues } from '../src/cli/rotate-sealed-values.ts';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { KeyRing } from '../src/crypto/index.ts';
import { APP_EVENT_TYPES, DEFAULT_APP_EVENT_TYPES, ENVIRONMENT_WEBHOOK_ID, generateWebhookSecret, verifyWebhook } from '../src/delivery/index.ts';
import { isTokenkeeperError } from '../src/errors.ts';
import { runCleanup } from '../src/jobs/index.ts';
import { createTokenkeeper } from '../src/service.ts';
import { findConnection, updateConnectionFenced } from '../src/store/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

/** One request the receiver got, and whether its signature verified. */
interface Received {
  webhookId: string;
  body: any;
  raw: string;
  verified: boolean;
  problem: string | null;
}

/**
 * A local endpoint of "the application": answers `status` (200 by default), or holds requests
 * unanswered while `hang` is set (released by `release()`), and verifies every request with the
 * endpoint's secret on the harness's clock.
 */
interface Receiver {
  url: string;
  secret: string | null;
  status: number;
  hang: boolean;
  received: Received[];
  /** Requests held open by `hang`. */
  held: ServerResponse[];
  ofType(type: string): Received[];
  release(): void;
  close(): Promise<void>;
}

async function startReceiver(clock: { now(): number }): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    secret: null,
    status: 200,
    hang: false,
    received: [],
    held: [],
    ofType: (type) => receiver.received.filter((entry) => entry.body?.type === type),
    release: () => {
      for (const response of receiver.held.splice(0)) response.writeHead(200).end('ok');
    },
    close: async () => {
      receiver.release();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      let problem: string | null = null;
      try {
        if (!receiver.secret) throw new Error('the receiver has no secret yet');
        verifyWebhook(receiver.secret, request.headers as Record<string, string>, raw, { nowMs: clock.now() });
        verified = true;
      } catch (error) {
        problem = (error as Error).message;
      }
      let body: unknown = null;
      try {
        body = JSON.parse(raw);
      } catch {
        problem ??= 'the body is not JSON';
      }
      receiver.received.push({ webhookId: String(request.headers['webhook-id']), body, raw, verified, problem });
      if (receiver.hang) receiver.held.push(response);
      else response.writeHead(receiver.status, { 'content-type': 'text/plain' }).end(receiver.status < 300 ? 'ok' : 'receiver is broken');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/tokenkeeper?token=receiver-own-token`;
  return receiver;
}

for (const dialect of testDialects()) {
  describe(`webhooks to the application (${dialect})`, () => {
    let h: Harness;
    const receivers: Receiver[] = [];
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => {
      await h.close();
      await Promise.all(receivers.map((receiver) => receiver.close()));
    });

    /** A receiver and an endpoint for it (through the API), whose secret the receiver verifies with. */
    async function endpoint(events?: string[], on: Harness = h): Promise<{ id: string; receiver: Receiver }> {
      const receiver = await startReceiver(on.clock);
      receivers.push(receiver);
      const created = await on.api('POST', '/v1/webhooks', { url: receiver.url, ...(events ? { events } : {}) });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      receiver.secret = created.body.secret;
      return { id: created.body.id, receiver };
    }

    /** What the periodic `webhooks` job does: fan out and deliver what is due. */
    async function runJob(on: Harness = h): Promise<void> {
      await on.tk.events.settled();
      await on.tk.jobs.run('webhooks');
    }

    async function deliveries(id: string, on: Harness = h): Promise<any[]> {
      const log = await on.api('GET', `/v1/webhooks/${id}/deliveries`);
      assert.equal(log.status, 200, JSON.stringify(log.body));
      return log.body.data;
    }

    /** Every body the receiver got is signed, in the documented shape, and carries no token. */
    async function assertWellFormed(receiver: Receiver): Promise<void> {
      for (const entry of receiver.received) {
        assert.ok(entry.verified, `signature: ${entry.problem}`);
        assert.match(entry.body.id, /^evt_[a-z2-7]{20}$/);
        assert.equal(entry.webhookId, entry.body.id, 'webhook-id is the event id');
        assert.ok(APP_EVENT_TYPES.includes(entry.body.type), entry.body.type);
        assert.match(entry.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(typeof entry.body.data, 'object');
        assert.doesNotMatch(entry.raw, /"(access_token|refresh_token|id_token|client_secret)"|whsec_/);
      }
    }

    test('an endpoint’s secret is shown once, never listed, and stored only sealed', async () => {
      const created = await h.api('POST', '/v1/webhooks', { url: 'https://app.test/hooks' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(created.body.id, /^whk_[a-z2-7]{20}$/);
      assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(created.headers['cache-control'], 'no-store');
      assert.deepEqual(created.body.events, [...DEFAULT_APP_EVENT_TYPES], 'by default every event but connection.refreshed');
      assert.ok(!created.body.events.includes('connection.refreshed'));
      assert.equal(created.body.source, 'api');
      const secret: string = created.body.secret;

      const shown = await h.api('GET', `/v1/webhooks/${created.body.id}`);
      assert.equal(shown.status, 200);
      assert.equal(shown.body.secret, undefined);
      const listed = await h.api('GET', '/v1/webhooks');
      assert.ok(listed.body.data.some((entry: { id: string }) => entry.id === created.body.id));
      for (const answer of [shown.body, listed.body]) assert.ok(!JSON.stringify(answer).includes(secret), 'no answer holds the secret');

      const rows = await h.tk.database.db.selectFrom('app_webhooks').selectAll().execute();
      assert.ok(!JSON.stringify(rows).includes(secret), 'no column holds the secret in plaintext');
      assert.ok(!JSON.stringify(rows).includes(secret.slice('whsec_'.length, 30)));
      const row = rows.find((entry) => entry.id === created.body.id)!;
      assert.equal(h.tk.keyRing.open(row.secret_sealed, `app_webhooks:${row.id}:secret`), secret, 'sealed with the key ring, bound to its row');

      assert.equal((await h.api('DELETE', `/v1/webhooks/${created.body.id}`)).status, 204);
      assert.equal((await h.api('GET', `/v1/webhooks/${created.body.id}`)).body.error.code, 'webhook_not_found');
    });

    test('bad input is a 400 with a stable code and every problem in words, never a 500', async () => {
      const cases: [unknown, RegExp][] = [
        [{ url: 'ftp://app.test/hooks' }, /url must start with https:\/\//],
        [{ url: 'not a url' }, /url is not an absolute URL/],
        [{ url: 'https://user:pass@app.test/hooks' }, /must not contain a user name or password/],
        [{ url: 'https://app.test/hooks', events: ['connection.refresh'] }, /events\[0\] must be one of "connection\.created", "connection\.refreshed", "connection\.refresh_failed"/],
        [{ url: 'https://app.test/hooks', events: [] }, /events must have at least 1 items?/],
        [{ url: 'https://app.test/hooks', colour: 'red' }, /unknown field "colour"/],
        [{}, /url is required/],
      ];
      for (const [body, message] of cases) {
        const response = await h.api('POST', '/v1/webhooks', body);
        assert.equal(response.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, 'invalid_request');
        assert.match(response.body.error.message, message);
      }
      // The same checks for the CLI's path through the service, with the list of events and a suggestion.
      await assert.rejects(h.tk.webhooks.create({ url: 'https://app.test/hooks', events: ['connection.refresh'] }), (error: unknown) => {
        assert.ok(isTokenkeeperError(error, 'invalid_request'));
        assert.match(error.message, /"connection\.refresh" is not an event \(did you mean "connection\.refreshed"\?\); the events are connection\.created, connection\.refreshed, connection\.refresh_failed, connection\.needs_reauth, connection\.recovered, connection\.deleted, integration\.failing, integration\.recovered/);
        return true;
      });
      await assert.rejects(h.tk.webhooks.create({ url: 'javascript:alert(1)' }), /url must start with https:\/\//);

      const answers: [string, string, number, string][] = [
        ['GET', '/v1/webhooks/not-an-id', 400, 'invalid_id'],
        ['GET', '/v1/webhooks/whk_aaaaaaaaaaaaaaaaaaaa', 404, 'webhook_not_found'],
        ['DELETE', '/v1/webhooks/whk_aaaaaaaaaaaaaaaaaaaa', 404, 'webhook_not_found'],
        ['GET', '/v1/webhooks/whk_aaaaaaaaaaaaaaaaaaaa/deliveries', 404, 'webhook_not_found'],
        ['POST', '/v1/webhooks/whk_aaaaaaaaaaaaaaaaaaaa/deliveries/dlv_aaaaaaaaaaaaaaaaaaaa/retry', 404, 'webhook_not_found'],
      ];
      const { id } = (await h.api('POST', '/v1/webhooks', { url: 'https://app.test/bad-input' })).body;
      answers.push(
        ['GET', `/v1/webhooks/${id}/deliveries?status=lost`, 400, 'invalid_request'],
        ['GET', `/v1/webhooks/${id}/deliveries?limit=0`, 400, 'invalid_request'],
        ['POST', `/v1/webhooks/${id}/deliveries/not-a-delivery/retry`, 400, 'invalid_id'],
        ['POST', `/v1/webhooks/${id}/deliveries/dlv_aaaaaaaaaaaaaaaaaaaa/retry`, 404, 'delivery_not_found'],
      );
      for (const [method, url, status, code] of answers) {
        const response = await h.api(method, url);
        assert.equal(response.status, status, `${method} ${url}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, code, `${method} ${url}`);
      }
      await h.api('DELETE', `/v1/webhooks/${id}`);
    });

    test('a new connection is one connection.created, signed, in the API’s shape, without a token', async () => {
      const { id: webhook, receiver } = await endpoint();
      const connectionId = await h.connect('webhook-alice', 'alice');
      await runJob();
      const created = receiver.ofType('connection.created');
      assert.equal(created.length, 1, JSON.stringify(receiver.received.map((entry) => entry.body.type)));
      await assertWellFormed(receiver);
      const { connection } = created[0]!.body.data;
      assert.deepEqual(connection, (await h.api('GET', `/v1/connections/${connectionId}`)).body, 'the connection as the API shows it');
      assert.equal(created[0]!.body.data.imported, false);
      const { record } = await h.tk.connections.get(connectionId);
      const tokens = h.tk.tokens.peekTokens(record)!;
      for (const secret of [tokens.access_token, tokens.refresh_token!]) assert.ok(!created[0]!.raw.includes(secret), 'no token in the payload');

      const log = await deliveries(webhook);
      assert.equal(log.length, 1);
      assert.equal(log[0].status, 'delivered');
      assert.equal(log[0].attempts, 1);
      assert.equal(log[0].response_status, 200);
      assert.equal(log[0].event_id, created[0]!.body.id);
      assert.equal(log[0].event_type, 'connection.created');
      assert.equal(log[0].next_attempt_at, null);

      await runJob();
      assert.equal(receiver.received.length, 1, 'a second run sends nothing again');
      await h.api('DELETE', `/v1/webhooks/${webhook}`);
    });

    test('a revoked grant is exactly one connection.needs_reauth; reconnecting is exactly one connection.recovered', async () => {
      const connectionId = await h.connect('webhook-rita', 'rita');
      const { id: webhook, receiver } = await endpoint();
      await h.sandbox.revokeGrants('rita');
      h.clock.advance(100_000);
      assert.equal((await h.api('GET', `/v1/connections/${connectionId}/token`)).body.error.code, 'connection_needs_reauth');
      assert.equal((await h.api('GET', `/v1/connections/${connectionId}/token`)).body.error.code, 'connection_needs_reauth');
      await runJob();
      await runJob();
      const needsReauth = receiver.ofType('connection.needs_reauth');
      assert.equal(needsReauth.length, 1, JSON.stringify(receiver.received.map((entry) => entry.body.type)));
      assert.equal(needsReauth[0]!.body.data.connection.id, connectionId);
      assert.equal(needsReauth[0]!.body.data.connection.status, 'needs_reauth');
      assert.equal(needsReauth[0]!.body.data.connection.owner_id, 'webhook-rita');
      assert.equal(needsReauth[0]!.body.data.error_code, 'invalid_grant');
      assert.equal(typeof needsReauth[0]!.body.data.reason, 'string');
      assert.equal(receiver.ofType('connection.refresh_failed').length, 0, 'a permanent failure is needs_reauth, not refresh_failed');

      assert.equal(await h.connect('webhook-rita', 'rita'), connectionId, 'the same connection, reconnected');
      await runJob();
      const recovered = receiver.ofType('connection.recovered');
      assert.equal(recovered.length, 1);
      assert.equal(recovered[0]!.body.data.previous_status, 'needs_reauth');
      assert.equal(recovered[0]!.body.data.connection.status, 'active');
      assert.equal(receiver.ofType('connection.created').length, 0, 'a reconnect is not a new connection');
      assert.equal(receiver.ofType('connection.needs_reauth').length, 1);
      await assertWellFormed(receiver);
      await h.api('DELETE', `/v1/webhooks/${webhook}`);
    });

    test('deleting an integration with its connections (force) is one connection.deleted for each, then integration events stop', async () => {
      // Its own instance: the sandbox integration goes.
      const d = await startHarness({ dialect });
      try {
        const { id: webhook, receiver } = await endpoint(['connection.deleted'], d);
        const ids = [await d.connect('webhook-forced-1', 'forced1'), await d.connect('webhook-forced-2', 'forced2')];
        const system = await d.tk.connections.ensureSystemConnection('sandbox');
        assert.ok(system);
        const refused = await d.api('DELETE', '/v1/integrations/sandbox');
        assert.equal(refused.status, 409);
        assert.equal(refused.body.error.code, 'integration_in_use');
        await runJob(d);
        assert.equal(receiver.received.length, 0, 'a refused delete deletes nothing and says nothing');
        assert.equal((await d.api('DELETE', '/v1/integrations/sandbox?force=true')).status, 204);
        await runJob(d);
        const deleted = receiver.received.map((entry) => entry.body.data.connection.id).sort();
        assert.deepEqual(deleted, [...ids, system.id].sort(), 'one connection.deleted for each connection, the system one too');
        for (const entry of receiver.received) {
          assert.equal(entry.body.type, 'connection.deleted');
          assert.equal(entry.body.data.connection.integration, 'sandbox');
        }
        await assertWellFormed(receiver);
        await d.api('DELETE', `/v1/webhooks/${webhook}`);
      } finally {
        await d.close();
      }
    });

    test('a system connection minted again after needs_reauth (the operator changed the integration) is one connection.recovered', async () => {
      const d = await startHarness({ dialect });
      try {
        const { id: webhook, receiver } = await endpoint(['connection.recovered', 'connection.created'], d);
        const system = (await d.tk.connections.ensureSystemConnection('sandbox'))!;
        assert.equal(system.status, 'active');
        await runJob(d);
        assert.deepEqual(receiver.received.map((entry) => entry.body.type), ['connection.created']);
        // The state a permanent refusal leaves (the sandbox has no switch for one on client
        // credentials): needs_reauth, the old token set kept.
        const row = (await findConnection(d.tk.database.db, system.id))!;
        assert.ok(await updateConnectionFenced(d.tk.database.db, system.id, row.version, { status: 'needs_reauth', statusReason: 'invalid_scope', updatedAt: d.clock.now() }));
        d.tk.tokens.forget(system.id);
        d.clock.advance(1_000);
        assert.equal((await d.api('PATCH', '/v1/integrations/sandbox', {})).status, 200);
        d.clock.advance(1_000);
        const minted = (await d.tk.connections.ensureSystemConnection('sandbox'))!;
        assert.equal(minted.id, system.id);
        assert.equal(minted.status, 'active');
        await runJob(d);
        const recovered = receiver.received.filter((entry) => entry.body.type === 'connection.recovered');
        assert.equal(recovered.length, 1, JSON.stringify(receiver.received.map((entry) => entry.body.type)));
        assert.equal(recovered[0]!.body.data.connection.id, system.id);
        assert.equal(recovered[0]!.body.data.previous_status, 'needs_reauth');
        await d.api('DELETE', `/v1/webhooks/${webhook}`);
      } finally {
        await d.close();
      }
    });

    test('deleting a connection is one connection.deleted with the connection as it was', async () => {
      const connectionId = await h.connect('webhook-dora', 'dora');
      const before = (await h.api('GET', `/v1/connections/${connectionId}`)).body;
      const { id: webhook, receiver } = await endpoint();
      assert.equal((await h.api('DELETE', `/v1/connections/${connectionId}`)).status, 200);
      assert.equal((await h.api('DELETE', `/v1/connections/${connectionId}`)).status, 404);
      await runJob();
      const deleted = receiver.ofType('connection.deleted');
      assert.equal(deleted.length, 1);
      assert.deepEqual(deleted[0]!.body.data.connection, before);
      await assertWellFormed(receiver);
      await h.api('DELETE', `/v1/webhooks/${webhook}`);
    });

    test('filters are respected, and connection.refreshed goes only to endpoints that name it', async () => {
      const { id: everything, receiver: all } = await endpoint();
      const connectionId = await h.connect('webhook-fil', 'fil');
      assert.equal((await h.api('POST', `/v1/connections/${connectionId}/refresh`)).status, 200);
      await runJob();
      assert.deepEqual(all.received.map((entry) => entry.body.type), ['connection.created']);
      const unwanted = await h.tk.database.db.selectFrom('app_events').select('id').where('type', '=', 'connection.refreshed').execute();
      assert.equal(unwanted.length, 0, 'no endpoint asked for connection.refreshed: none was even written');

      const { id: refreshes, receiver: refreshedOnly } = await endpoint(['connection.refreshed']);
      const { id: deletions, receiver: deletedOnly } = await endpoint(['connection.deleted', 'connection.created']);
      assert.deepEqual((await h.api('GET', `/v1/webhooks/${deletions}`)).body.events, ['connection.created', 'connection.deleted']);
      assert.equal((await h.api('POST', `/v1/connections/${connectionId}/refresh`)).status, 200);
      await runJob();
      assert.deepEqual(refreshedOnly.received.map((entry) => entry.body.type), ['connection.refreshed']);
      assert.equal(refreshedOnly.received[0]!.body.data.connection.id, connectionId);
      assert.deepEqual(all.received.map((entry) => entry.body.type), ['connection.created'], 'the default filter leaves connection.refreshed out');
      assert.equal(deletedOnly.received.length, 0);
      await h.api('DELETE', `/v1/connections/${connectionId}`);
      await runJob();
      assert.deepEqual(deletedOnly.received.map((entry) => entry.body.type), ['connection.deleted']);
      assert.deepEqual(refreshedOnly.received.map((entry) => entry.body.type), ['connection.refreshed']);
      for (const receiver of [all, refreshedOnly, deletedOnly]) await assertWellFormed(receiver);
      for (const id of [everything, refreshes, deletions]) await h.api('DELETE', `/v1/webhooks/${id}`);
    });

    test('a receiver answering 500 is retried with backoff; the log shows every attempt; retries stop after 24 h; manual redelivery', async () => {
      // Its own instance: a day passes on its clock.
      const d = await startHarness({ dialect });
      try {
        const { id: webhook, receiver } = await endpoint(['connection.created'], d);
        receiver.status = 500;
        await d.connect('webhook-broken', 'broken');
        await runJob(d);
        assert.equal(receiver.received.length, 1);
        let [delivery] = await deliveries(webhook, d);
        assert.equal(delivery.status, 'pending');
        assert.equal(delivery.attempts, 1);
        assert.equal(delivery.response_status, 500);
        assert.match(delivery.last_error, /^POST http:\/\/127\.0\.0\.1:\d+ answered 500: receiver is broken$/, 'the URL’s path and query (a token) are not in the log');
        const firstRetryAt = Date.parse(delivery.next_attempt_at);
        assert.ok(firstRetryAt >= d.clock.now() + 5_000, 'backing off: the next attempt is not now');

        await runJob(d);
        assert.equal(receiver.received.length, 1, 'not retried before its time');
        d.clock.set(firstRetryAt);
        await runJob(d);
        assert.equal(receiver.received.length, 2);
        [delivery] = await deliveries(webhook, d);
        assert.equal(delivery.attempts, 2);
        const secondRetryAt = Date.parse(delivery.next_attempt_at);
        assert.ok(secondRetryAt - d.clock.now() >= firstRetryAt - Date.parse(delivery.created_at), 'the wait grows');

        receiver.status = 204;
        d.clock.set(secondRetryAt);
        await runJob(d);
        [delivery] = await deliveries(webhook, d);
        assert.equal(delivery.status, 'delivered');
        assert.equal(delivery.attempts, 3);
        assert.equal(delivery.response_status, 204);
        assert.equal(delivery.last_error, null);
        assert.equal(delivery.next_attempt_at, null);
        assert.equal(new Set(receiver.received.map((entry) => entry.webhookId)).size, 1, 'every attempt has the same webhook-id');
        assert.equal(new Set(receiver.received.map((entry) => entry.raw)).size, 1, 'and the same body');

        // A receiver down for good: retried until 24 h after the event, then failed.
        receiver.status = 503;
        await d.connect('webhook-down', 'down');
        await runJob(d);
        for (let round = 0; round < 100; round++) {
          const [pending] = await deliveries(webhook, d);
          if (pending.status !== 'pending') break;
          d.clock.set(Date.parse(pending.next_attempt_at));
          await runJob(d);
        }
        const [failed] = await deliveries(webhook, d);
        assert.equal(failed.status, 'failed');
        assert.equal(failed.next_attempt_at, null);
        assert.ok(failed.attempts >= 10 && failed.attempts <= 40, `${failed.attempts} attempts over a day`);
        assert.ok(Date.parse(failed.last_attempt_at) - Date.parse(failed.created_at) <= 24 * 3_600_000);
        assert.ok(Date.parse(failed.last_attempt_at) - Date.parse(failed.created_at) >= 12 * 3_600_000, 'retried for most of a day');
        const metrics = String((await d.api('GET', '/metrics')).body);
        assert.match(metrics, /^tokenkeeper_webhook_deliveries\{status="failed"\} 1$/m);
        assert.match(metrics, /^tokenkeeper_webhook_deliveries\{status="delivered"\} 1$/m);
        assert.match(metrics, /^tokenkeeper_webhook_deliveries\{status="pending"\} 0$/m);
        const attemptsBefore = receiver.received.length;

        // Fixed: redelivered by hand, with the same id.
        receiver.status = 200;
        const retried = await d.api('POST', `/v1/webhooks/${webhook}/deliveries/${failed.id}/retry`);
        assert.equal(retried.status, 202, JSON.stringify(retried.body));
        assert.equal(retried.body.status, 'pending');
        assert.equal(Date.parse(retried.body.next_attempt_at), d.clock.now());
        await runJob(d);
        assert.equal(receiver.received.length, attemptsBefore + 1);
        assert.equal(receiver.received.at(-1)!.webhookId, failed.event_id);
        const [done] = await deliveries(webhook, d);
        assert.equal(done.status, 'delivered');
        assert.equal(done.attempts, failed.attempts + 1);

        // A delivered one can be sent again too (a receiver that lost it).
        assert.equal((await d.api('POST', `/v1/webhooks/${webhook}/deliveries/${done.id}/retry`)).status, 202);
        await runJob(d);
        assert.equal(receiver.received.length, attemptsBefore + 2);
        assert.equal((await deliveries(webhook, d))[0].status, 'delivered');
        assert.deepEqual((await d.api('GET', `/v1/webhooks/${webhook}/deliveries?status=failed`)).body.data, []);
        await assertWellFormed(receiver);
      } finally {
        await d.close();
      }
    });

    test('transient failures are connection.refresh_failed; the successful refresh of a degraded connection is connection.recovered', async () => {
      const d = await startHarness({ dialect, tokenTuning: { circuit: { failureThreshold: 1_000, openMs: 30_000 } } });
      const receiver = await startReceiver(d.clock);
      receivers.push(receiver);
      try {
        const created = await d.api('POST', '/v1/webhooks', { url: receiver.url });
        receiver.secret = created.body.secret;
        const id = await d.connect('webhook-degrade', 'dina');
        d.sandbox.setFaults({ errorRate5xx: 1, retryAfterSeconds: 0 });
        for (let i = 0; i < 3; i++) {
          d.clock.advance(1_000);
          assert.equal((await d.api('POST', `/v1/connections/${id}/refresh`)).status, 503);
        }
        d.sandbox.resetFaults();
        d.clock.advance(1_000);
        assert.equal((await d.api('POST', `/v1/connections/${id}/refresh`)).status, 200);
        await d.tk.events.settled();
        await d.tk.jobs.run('webhooks');
        const failures = receiver.ofType('connection.refresh_failed');
        assert.equal(failures.length, 3);
        assert.equal(failures[0]!.body.data.error_code, 'provider_unavailable');
        // Deliveries are not ordered (several are sent at once): each event says where it stands.
        failures.sort((a, b) => a.body.data.connection.failure_count - b.body.data.connection.failure_count);
        assert.deepEqual(failures.map((entry) => entry.body.data.connection.failure_count), [1, 2, 3]);
        assert.deepEqual(failures.map((entry) => entry.body.data.connection.status), ['active', 'active', 'degraded']);
        const recovered = receiver.ofType('connection.recovered');
        assert.equal(recovered.length, 1);
        assert.equal(recovered[0]!.body.data.previous_status, 'degraded');
        assert.equal(recovered[0]!.body.data.connection.status, 'active');
        assert.equal(receiver.ofType('connection.refreshed').length, 0);
        await assertWellFormed(receiver);
      } finally {
        await d.close();
      }
    });

    test('integration.failing when the provider rejects the integration’s credentials; integration.recovered when it is fixed', async () => {
      const { id: webhook, receiver } = await endpoint(['integration.failing', 'integration.recovered']);
      const integration = (await h.tk.integrations.findByKey('sandbox'))!;
      await h.tk.integrations.markFailing(integration.id, { code: 'invalid_client', message: 'client authentication failed' });
      await h.tk.integrations.markFailing(integration.id, { code: 'invalid_client', message: 'client authentication failed' });
      assert.equal((await h.api('PATCH', '/v1/integrations/sandbox', {})).status, 200);
      assert.equal((await h.api('PATCH', '/v1/integrations/sandbox', {})).status, 200);
      await runJob();
      assert.deepEqual(receiver.received.map((entry) => entry.body.type), ['integration.failing', 'integration.recovered']);
      const [failing, recovered] = receiver.received;
      assert.equal(failing!.body.data.integration.key, 'sandbox');
      assert.equal(failing!.body.data.integration.status, 'failing');
      assert.equal(failing!.body.data.error_code, 'invalid_client');
      assert.equal(failing!.body.data.reason, 'client authentication failed');
      assert.equal(recovered!.body.data.integration.status, 'ok');
      assert.equal(recovered!.body.data.integration.has_client_secret, true);
      await assertWellFormed(receiver);
      await h.api('DELETE', `/v1/webhooks/${webhook}`);
    });

    test('two instances sharing the database deliver each event once', async () => {
      const other = await createTokenkeeper({ config: h.config, clock: h.clock, logger: h.logger });
      try {
        const { id: webhook, receiver } = await endpoint(['connection.created']);
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) ids.push(await h.connect(`webhook-pair-${i}`, `pair${i}`));
        await h.tk.events.settled();
        // Both instances fan out and deliver at the same moment, twice over.
        await Promise.all([h.tk.webhooks.dispatcher.step(), other.webhooks.dispatcher.step(), h.tk.webhooks.dispatcher.step(), other.webhooks.dispatcher.step()]);
        await Promise.all([h.tk.webhooks.dispatcher.step(), other.webhooks.dispatcher.step()]);
        const received = receiver.ofType('connection.created').map((entry) => entry.body.data.connection.id);
        assert.deepEqual(received.slice().sort(), ids.slice().sort(), 'each event once');
        const log = await deliveries(webhook);
        assert.equal(log.length, 6);
        assert.ok(log.every((entry) => entry.status === 'delivered' && entry.attempts === 1));
        await assertWellFormed(receiver);
        await h.api('DELETE', `/v1/webhooks/${webhook}`);
      } finally {
        await other.close();
      }
    });

    test('once started, a change is delivered right after it commits, and a hanging receiver never holds the change up', { timeout: 120_000 }, async () => {
      // Its own instance (the wake stays on), whose attempts wait a minute for an answer.
      const d = await startHarness({ dialect, env: { TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS: '60000' } });
      try {
        const { id: webhook, receiver } = await endpoint(['connection.created', 'connection.deleted'], d);
        receiver.hang = true;
        d.tk.webhooks.dispatcher.start();
        // The connect flow returns while its event's delivery hangs at the receiver. Were delivery
        // on its path, it would return only after the attempt had timed out and been recorded.
        const connectionId = await d.connect('webhook-wake', 'wake');
        assert.ok((await deliveries(webhook, d)).every((entry) => entry.attempts === 0), 'no attempt has ended when the change returns');
        await until(() => receiver.received.length === 1, 'the woken delivery to arrive (no job was run)');
        assert.equal(receiver.held.length, 1, 'the receiver is still holding the request');
        const deleted = await d.api('DELETE', `/v1/connections/${connectionId}`);
        assert.equal(deleted.status, 200, 'a change is not held up either');
        receiver.hang = false;
        receiver.release();
        await until(async () => (await deliveries(webhook, d)).filter((entry) => entry.status === 'delivered').length === 2, 'both deliveries to be recorded');
        assert.deepEqual(receiver.received.map((entry) => entry.body.type), ['connection.created', 'connection.deleted']);
        await assertWellFormed(receiver);
      } finally {
        await d.close();
      }
    });

    test('a delivery claimed by an instance that died is sent again once its claim lapses', async () => {
      const { id: webhook, receiver } = await endpoint(['connection.created']);
      receiver.status = 500;
      await h.connect('webhook-claim', 'claim');
      await runJob();
      assert.equal(receiver.received.length, 1);
      receiver.status = 200;
      // What a sender that died mid-request leaves: the due row claimed, the attempt never recorded.
      const [row] = await deliveries(webhook);
      await h.tk.database.db
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: h.clock.now(), claimed_until: h.clock.now() + 20_000, claim_token: 'dead-instance' })
        .where('id', '=', row.id)
        .execute();
      await runJob();
      assert.equal(receiver.received.length, 1, 'not sent while the dead instance’s claim holds');
      h.clock.advance(20_001);
      await runJob();
      assert.equal(receiver.received.length, 2, 'sent once the claim lapsed');
      const [after] = await deliveries(webhook);
      assert.equal(after.status, 'delivered');
      assert.equal(after.attempts, 2, 'the dead attempt was never recorded');
      await runJob();
      assert.equal(receiver.received.length, 2);
      await assertWellFormed(receiver);
      await h.api('DELETE', `/v1/webhooks/${webhook}`);
    });

    test('rotate-keys re-seals the signing secrets; cleanup removes old delivered rows', async () => {
      // Its own instance: a month passes on its clock.
      const d = await startHarness({ dialect });
      try {
        const { id: webhook, receiver } = await endpoint(['connection.created'], d);
        await d.connect('webhook-rotate', 'rotate');
        await runJob(d);
        assert.equal(receiver.received.length, 1);

        const rotated = KeyRing.parse(`${KeyRing.generateKeySpec('k2')},${d.encryptionKeys}`);
        const report = await rotateSealedValues({ db: d.tk.database.db, keyRing: rotated, batchSize: 10 });
        const column = report.columns.find((entry) => entry.column === 'app_webhooks.secret_sealed');
        assert.ok(column && column.reencrypted >= 1, JSON.stringify(report.columns));
        const row = await d.tk.database.db.selectFrom('app_webhooks').selectAll().where('id', '=', webhook).executeTakeFirstOrThrow();
        assert.equal(rotated.keyIdOf(row.secret_sealed), 'k2');
        assert.equal(rotated.open(row.secret_sealed, `app_webhooks:${webhook}:secret`), receiver.secret);

        // Retention: delivered rows a week, failed ones 30 days, then their events.
        const db = d.tk.database.db;
        receiver.status = 500;
        await d.connect('webhook-retention', 'retention');
        await runJob(d);
        await db.updateTable('webhook_deliveries').set({ status: 'failed', next_attempt_at: null }).where('status', '=', 'pending').execute();
        const statuses = async () => (await db.selectFrom('webhook_deliveries').select('status').execute()).map((row) => row.status).sort();
        const events = async () => (await db.selectFrom('app_events').select('id').execute()).length;
        assert.deepEqual(await statuses(), ['delivered', 'failed']);
        assert.equal(await events(), 2);
        d.clock.advance(6 * 86_400_000);
        await runCleanup({ db, clock: d.clock });
        assert.deepEqual(await statuses(), ['delivered', 'failed'], 'nothing is a week old yet');
        d.clock.advance(2 * 86_400_000);
        await runCleanup({ db, clock: d.clock });
        assert.deepEqual(await statuses(), ['failed'], 'delivered rows go after a week');
        assert.equal(await events(), 1, 'with their events');
        d.clock.advance(23 * 86_400_000);
        await runCleanup({ db, clock: d.clock });
        assert.deepEqual(await statuses(), [], 'failed ones after 30 days');
        assert.equal(await events(), 0);
      } finally {
        await d.close();
      }
    });

    test('tokenkeeper webhooks: create prints the secret once; list, deliveries, retry and delete; mistakes say what to do', async () => {
      const env: Record<string, string> = {
        TOKENKEEPER_DATA_DIR: h.dataDir,
        TOKENKEEPER_ENCRYPTION_KEYS: h.encryptionKeys,
        TOKENKEEPER_SANDBOX: 'false',
        ...(h.databaseUrl ? { DATABASE_URL: h.databaseUrl } : {}),
      };
      const cli = async (...argv: string[]) => {
        let stdout = '';
        let stderr = '';
        const code = await runCli(argv, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), env, cwd: h.dataDir });
        return { code, stdout, stderr };
      };
      const receiver = await startReceiver(h.clock);
      receivers.push(receiver);
      const created = await cli('webhooks', 'create', '--url', receiver.url, '--events', 'connection.created, connection.deleted', '--json');
      assert.equal(created.code, 0, created.stderr);
      const endpointJson = JSON.parse(created.stdout);
      assert.match(endpointJson.id, /^whk_/);
      assert.deepEqual(endpointJson.events, ['connection.created', 'connection.deleted']);
      receiver.secret = endpointJson.secret;
      assert.match(receiver.secret!, /^whsec_/);

      const text = await cli('webhooks', 'create', '--url', 'https://app.test/cli');
      assert.equal(text.code, 0, text.stderr);
      const secret = /\n {4}(whsec_\S+)\n/.exec(text.stdout)?.[1];
      assert.ok(secret, text.stdout);
      assert.match(text.stdout, /it will not be shown again/);
      assert.match(text.stdout, /Events: default \(all but connection\.refreshed\)/);
      const other = /Created webhook endpoint (whk_[a-z2-7]{20})/.exec(text.stdout)![1]!;

      const listed = await cli('webhooks', 'list');
      assert.equal(listed.code, 0);
      assert.ok(listed.stdout.includes(endpointJson.id) && listed.stdout.includes(other));
      assert.ok(!listed.stdout.includes(secret!) && !listed.stdout.includes(receiver.secret!), 'list never shows a secret');
      const listedJson = JSON.parse((await cli('webhooks', 'list', '--json')).stdout);
      assert.ok(listedJson.data.every((entry: Record<string, unknown>) => entry.secret === undefined));

      await h.connect('webhook-cli', 'cli');
      await runJob();
      const log = JSON.parse((await cli('webhooks', 'deliveries', endpointJson.id, '--json')).stdout).data;
      assert.equal(log.length, 1);
      assert.equal(log[0].status, 'delivered');
      const table = await cli('webhooks', 'deliveries', endpointJson.id);
      assert.match(table.stdout, /connection\.created\s+delivered\s+1\s+200/);
      const retried = await cli('webhooks', 'retry', log[0].id);
      assert.equal(retried.code, 0, retried.stderr);
      assert.match(retried.stdout, /^Queued delivery dlv_[a-z2-7]{20} \(connection\.created, event evt_[a-z2-7]{20}\) to be sent again now\./);
      // The command ran on the real clock: the server's clock catches up with it.
      h.clock.set(Math.max(h.clock.now(), Date.now()));
      await runJob();
      assert.equal(receiver.received.length, 2);
      assert.equal(receiver.received[0]!.webhookId, receiver.received[1]!.webhookId);
      await assertWellFormed(receiver);

      const wrongEvent = await cli('webhooks', 'create', '--url', 'https://app.test/cli', '--events', 'connection.refresh');
      assert.equal(wrongEvent.code, 1);
      assert.match(wrongEvent.stderr, /^error \[invalid_request\]: .*"connection\.refresh" is not an event \(did you mean "connection\.refreshed"\?\); the events are connection\.created, /);
      const noUrl = await cli('webhooks', 'create');
      assert.equal(noUrl.code, 2);
      assert.match(noUrl.stderr, /^error: missing --url <url>/);
      const badId = await cli('webhooks', 'delete', 'con_aaaaaaaaaaaaaaaaaaaa');
      assert.equal(badId.code, 1);
      assert.match(badId.stderr, /is not a webhook endpoint id/);
      const badStatus = await cli('webhooks', 'deliveries', endpointJson.id, '--status', 'lost');
      assert.equal(badStatus.code, 2);

      for (const id of [endpointJson.id, other]) {
        const deleted = await cli('webhooks', 'delete', id);
        assert.equal(deleted.code, 0, deleted.stderr);
        assert.match(deleted.stdout, /^Deleted webhook endpoint whk_/);
      }
      const gone = await cli('webhooks', 'delete', other);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /^error \[webhook_not_found\]: No webhook endpoint "whk_[a-z2-7]{20}"\.\nList the webhook endpoints with `tokenkeeper webhooks list`\.\n$/);
    });

    test('every webhook operation answers what the OpenAPI document says', async () => {
      const document = (await h.http.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
        components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
      };
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      addFormats.default(ajv);
      ajv.addSchema(document as object, 'openapi');
      const { id: webhook, receiver } = await endpoint(['connection.created']);
      receiver.status = 500;
      await h.connect('webhook-contract', 'contract');
      await runJob();
      const [delivery] = await deliveries(webhook);
      const calls: [string, string, unknown?][] = [
        ['POST', '/v1/webhooks', { url: 'https://app.test/contract', events: ['connection.refreshed'] }],
        ['POST', '/v1/webhooks', { url: 'mailto:x@app.test' }],
        ['GET', '/v1/webhooks'],
        ['GET', `/v1/webhooks/${webhook}`],
        ['GET', '/v1/webhooks/whk_aaaaaaaaaaaaaaaaaaaa'],
        ['GET', `/v1/webhooks/${webhook}/deliveries?status=pending&event_type=connection.created&limit=5`],
        ['POST', `/v1/webhooks/${webhook}/deliveries/${delivery.id}/retry`],
        ['POST', `/v1/webhooks/${webhook}/deliveries/dlv_aaaaaaaaaaaaaaaaaaaa/retry`],
        ['DELETE', `/v1/webhooks/${ENVIRONMENT_WEBHOOK_ID}`],
        ['DELETE', `/v1/webhooks/${webhook}`],
      ];
      const seen = new Set<string>();
      for (const [method, url, body] of calls) {
        const response = await h.api(method, url, body);
        const path = Object.keys(document.paths).find((candidate) => new RegExp(`^${candidate.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(url.split('?')[0]!))!;
        const operation = document.paths[path]![method.toLowerCase()]!;
        seen.add(`${operation.operationId} ${response.status}`);
        assert.ok(operation.responses[String(response.status)], `${method} ${url} → ${response.status} is documented`);
        if (response.status === 204) continue;
        const pointer = `openapi#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}/responses/${response.status}/content/application~1json/schema`;
        const validate = ajv.getSchema(pointer)!;
        assert.ok(validate(response.body), `${method} ${url} → ${response.status}: ${ajv.errorsText(validate.errors)}`);
        if (response.status === 201) await h.api('DELETE', `/v1/webhooks/${response.body.id}`);
      }
      for (const expected of ['createWebhook 201', 'createWebhook 400', 'getWebhook 404', 'retryWebhookDelivery 202', 'retryWebhookDelivery 404', 'deleteWebhook 204', 'deleteWebhook 404']) {
        assert.ok(seen.has(expected), expected);
      }
      const documented = (name: string): string[] => Object.keys(document.components.schemas[name]?.properties ?? {});
      assert.ok(documented('WebhookDelivery').includes('next_attempt_at'));
      assert.ok(!documented('WebhookEndpoint').includes('secret'));
    });
  });
}

describe('the environment’s endpoint (TOKENKEEPER_APP_WEBHOOK_URL)', () => {
  test('both variables or neither, a whsec_ secret and an http(s) URL, or start-up stops naming the variable', () => {
    const secret = generateWebhookSecret();
    const problems = (env: Record<string, string>): string[] => {
      try {
        loadConfig({ env: { TOKENKEEPER_DATA_DIR: '/tmp/tk-webhook-config', ...env }, dotenvPath: false });
        return [];
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems.map((problem) => `${problem.variable}: ${problem.message}`);
      }
    };
    assert.deepEqual(problems({ TOKENKEEPER_APP_WEBHOOK_URL: 'https://app.test/hooks' }), [
      'TOKENKEEPER_APP_WEBHOOK_SECRET: is required because TOKENKEEPER_APP_WEBHOOK_URL is set: deliveries are signed with it (Standard Webhooks); set it, or unset TOKENKEEPER_APP_WEBHOOK_URL',
    ]);
    assert.deepEqual(problems({ TOKENKEEPER_APP_WEBHOOK_SECRET: secret }), [
      'TOKENKEEPER_APP_WEBHOOK_URL: is required because TOKENKEEPER_APP_WEBHOOK_SECRET is set: it is the endpoint that receives the events; set it, or unset TOKENKEEPER_APP_WEBHOOK_SECRET',
    ]);
    const badSecret = problems({ TOKENKEEPER_APP_WEBHOOK_URL: 'https://app.test/hooks', TOKENKEEPER_APP_WEBHOOK_SECRET: 'hunter2-but-longer-than-that' });
    assert.equal(badSecret.length, 1);
    assert.match(badSecret[0]!, /^TOKENKEEPER_APP_WEBHOOK_SECRET: must start with whsec_/);
    assert.ok(!badSecret[0]!.includes('hunter2'), 'the secret is not echoed');
    const badUrl = problems({ TOKENKEEPER_APP_WEBHOOK_URL: 'ftp://app.test/hooks?token=abc', TOKENKEEPER_APP_WEBHOOK_SECRET: secret });
    assert.equal(badUrl.length, 1);
    assert.match(badUrl[0]!, /^TOKENKEEPER_APP_WEBHOOK_URL: must start with https:\/\//);
    assert.ok(!badUrl[0]!.includes('token=abc'));
    assert.deepEqual(problems({ TOKENKEEPER_APP_WEBHOOK_URL: 'https://app.test/hooks', TOKENKEEPER_APP_WEBHOOK_SECRET: secret, TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS: '5000' }), []);
    assert.match(problems({ TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS: 'soon' })[0]!, /^TOKENKEEPER_APP_WEBHOOK_TIMEOUT_MS: "soon" is not a whole number/);
  });

  for (const dialect of testDialects()) {
    test(`receives the default events, cannot be deleted through the API, and goes when the variables do (${dialect})`, async () => {
      const secret = generateWebhookSecret();
      // The receiver's URL is needed before the instance starts, its clock only once it runs.
      let h: Harness | null = null;
      const receiver = await startReceiver({ now: () => h?.clock.now() ?? Date.now() });
      receiver.secret = secret;
      h = await startHarness({ dialect, env: { TOKENKEEPER_APP_WEBHOOK_URL: receiver.url, TOKENKEEPER_APP_WEBHOOK_SECRET: secret } });
      try {
        const listed = await h.api('GET', '/v1/webhooks');
        assert.deepEqual(listed.body.data.map((entry: { id: string; source: string; url: string; events: string[] }) => [entry.id, entry.source, entry.url, entry.events]), [
          [ENVIRONMENT_WEBHOOK_ID, 'environment', receiver.url, [...DEFAULT_APP_EVENT_TYPES]],
        ]);
        const refused = await h.api('DELETE', `/v1/webhooks/${ENVIRONMENT_WEBHOOK_ID}`);
        assert.equal(refused.status, 409);
        assert.equal(refused.body.error.code, 'webhook_from_environment');
        assert.match(refused.body.error.message, /unset TOKENKEEPER_APP_WEBHOOK_URL/);
        const rows = await h.tk.database.db.selectFrom('app_webhooks').selectAll().execute();
        assert.ok(!JSON.stringify(rows).includes(secret), 'sealed, not in plaintext');

        const connectionId = await h.connect('env-owner', 'envy');
        await h.tk.events.settled();
        await h.tk.jobs.run('webhooks');
        assert.equal(receiver.received.length, 1);
        assert.equal(receiver.received[0]!.body.type, 'connection.created');
        assert.equal(receiver.received[0]!.body.data.connection.id, connectionId);
        assert.ok(receiver.received[0]!.verified, `signed with the configured secret: ${receiver.received[0]!.problem}`);
        assert.equal(
          (await h.tk.webhooks.syncEnvironmentEndpoint({ removeWhenUnset: true })),
          'unchanged',
          'a start with the same variables writes nothing',
        );

        // Started again without the variables: a management command leaves the endpoint alone; `serve` removes it.
        const unset = await createTokenkeeper({ config: { ...h.config, appWebhooks: { ...h.config.appWebhooks, endpoint: null } }, clock: h.clock, logger: h.logger });
        try {
          assert.equal((await unset.webhooks.list()).length, 1);
          assert.equal(await unset.webhooks.syncEnvironmentEndpoint({ removeWhenUnset: true }), 'removed');
          assert.deepEqual(await unset.webhooks.list(), []);
        } finally {
          await unset.close();
        }
      } finally {
        await h.close();
        await receiver.close();
      }
    });
  }
});
