import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { smtpServer, type Closers } from './helpers/protocol-servers.ts';
import { cleanUpServes, spawnServe, standaloneSetup } from './helpers/serve-process.ts';

// What `tokenkeeper serve` loads before its first `/ready` is most of its start-up time (module
// loading, README "Cluster shape"). Modules only some requests need load with the first of them:
// the e-mail channel's SMTP client (nodemailer) with the first mail, the `/docs` reference
// (@fastify/swagger-ui and the static file server it brings) with the first request to it.
// Checked in a real process, whose every module load a preloaded hook writes down.

const RECORD_LOADS = fileURLToPath(new URL('./fixtures/record-module-loads.ts', import.meta.url));
const closers: Closers = [];
after(async () => {
  await cleanUpServes();
  for (const close of closers.splice(0)) await close();
});

/** The packages under node_modules among the modules loaded so far. */
function packagesLoaded(log: string): Set<string> {
  const names = readFileSync(log, 'utf8')
    .split('\n')
    .map((url) => url.match(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//)?.[1])
    .filter((name) => name !== undefined);
  return new Set(names);
}

test('serve answers /ready without loading nodemailer or the /docs plugin; the first mail and the first /docs request load them', async () => {
  const smtp = await smtpServer(closers, { username: 'alerts', password: 'smtp-secret' });
  const setup = await standaloneSetup('sqlite');
  const log = join(setup.dataDir, 'modules-loaded.log');
  writeFileSync(log, '');
  const serve = spawnServe({
    env: {
      ...setup.env,
      TOKENKEEPER_SANDBOX: 'false',
      TOKENKEEPER_SMTP_URL: `smtp://alerts:smtp-secret@127.0.0.1:${smtp.port}`,
      TOKENKEEPER_ALERT_EMAIL_FROM: 'alerts@example.test',
      TOKENKEEPER_ALERT_EMAIL_TO: 'ops@example.test',
      NODE_OPTIONS: `--import=${RECORD_LOADS}`,
      MODULE_LOAD_LOG: log,
    },
  });
  await serve.waitForReady();

  const atReady = packagesLoaded(log);
  assert.ok(atReady.has('fastify') && atReady.has('kysely'), `the hook records loads: ${[...atReady].join(', ')}`);
  for (const lazy of ['nodemailer', '@fastify/swagger-ui', '@fastify/static']) {
    assert.ok(!atReady.has(lazy), `${lazy} is loaded before the first /ready`);
  }

  await serve.waitForBanner();
  const apiKey = readFileSync(join(setup.dataDir, 'dev-api-key'), 'utf8').trim();
  const sent = await fetch(`${serve.url}/v1/alerts/test`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } });
  const report = (await sent.json()) as { ok: boolean };
  assert.equal(sent.status, 200);
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.equal(smtp.mails.length, 1, 'the test alert was mailed');
  assert.ok(packagesLoaded(log).has('nodemailer'));

  const docs = await fetch(`${serve.url}/docs`);
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger-ui/);
  const loaded = packagesLoaded(log);
  assert.ok(loaded.has('@fastify/swagger-ui') && loaded.has('@fastify/static'));

  const { code } = await serve.stop('SIGTERM');
  assert.equal(code, 0, serve.output());
});
