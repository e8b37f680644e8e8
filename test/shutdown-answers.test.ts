import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildHttpApp } from '../src/http/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';
import { until } from './helpers/waiting.ts';

for (const dialect of testDialects()) {
  describe(`draining (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ dialect });
    });
    after(async () => h.close());

    test('a request arriving on a kept-alive connection while the server drains gets 503 shutting_down in the documented shape', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let slowStarted = false;
      const app = await buildHttpApp(h.tk, {
        extend: (instance) => {
          instance.get('/test/slow', async () => {
            slowStarted = true;
            await held;
            return { ok: true };
          });
        },
      });
      await app.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.app.server.address() as AddressInfo;
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      try {
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write('GET /test/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
        await until(() => slowStarted, 'the slow request to start');
        const closing = app.app.close();
        // The next request on the same connection arrives while the server drains.
        socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
        await new Promise((resolve) => setTimeout(resolve, 50));
        release();
        await until(() => (received.match(/HTTP\/1\.1 /g) ?? []).length >= 2, `both answers\n${received}`);
        await closing;
        const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
        assert.match(first!, /^HTTP\/1\.1 200/, 'the request in flight finishes');
        assert.match(second!, /^HTTP\/1\.1 503/);
        assert.match(second!, /connection: close/i);
        const body = JSON.parse(second!.slice(second!.indexOf('\r\n\r\n') + 4));
        assert.equal(body.error.code, 'shutting_down');
        assert.equal(typeof body.error.request_id, 'string');
      } finally {
        release();
        socket.destroy();
        await app.app.close().catch(() => undefined);
      }
    });
  });
}
