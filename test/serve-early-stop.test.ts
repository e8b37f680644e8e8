import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanUpServes, spawnServe, standaloneSetup } from './helpers/serve-process.ts';
import { testDialects } from './helpers/test-database.ts';

// `tokenkeeper serve` as a supervisor drives it: `/ready` answers as soon as the port is bound,
// while start-up work still runs (the sandbox integration, its system connection minted at the
// sandbox, the development API key, the scheduler). A SIGTERM sent on the first 200 must stop
// the process cleanly, not kill it with a refresh lease held.

after(cleanUpServes);

for (const dialect of testDialects()) {
  describe(`tokenkeeper serve stopped right after /ready (${dialect})`, () => {
    test('SIGTERM on the first 200 from /ready: the server stops cleanly (exit 0), even with start-up work still running', async () => {
      const setup = await standaloneSetup(dialect);
      const serve = spawnServe({ env: setup.env });

      // A readiness probe that signals the moment it sees 200, as a test harness or a supervisor would.
      await serve.waitForReady({ path: '/ready', limitMs: 60_000 });
      const { code, signal } = await serve.stop('SIGTERM');

      assert.deepEqual({ code, signal }, { code: 0, signal: null }, serve.output());
      assert.match(serve.output(), /Tokenkeeper stopped\./);
    });
  });
}
