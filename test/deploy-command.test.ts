import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { runCli, type CliIo } from '../src/cli/index.ts';

const BIN = fileURLToPath(new URL('../bin/tokenkeeper.js', import.meta.url));
const cwd = mkdtempSync(join(tmpdir(), 'tokenkeeper-deploy-'));
after(() => rmSync(cwd, { recursive: true, force: true }));

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), env: { TOKENKEEPER_DATA_DIR: cwd, ...env }, cwd };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

function schedules(stdout: string): Record<string, string> {
  const { crons } = JSON.parse(stdout) as { crons: { path: string; schedule: string }[] };
  return Object.fromEntries(crons.map((cron) => [cron.path, cron.schedule]));
}

describe('tokenkeeper deploy vercel-crons', () => {
  test('prints the vercel.json crons: refresh at the sweep interval, alerts and webhooks every minute, stuck connections every 5 minutes, cleanup hourly', async () => {
    const result = await run(['deploy', 'vercel-crons']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      crons: [
        { path: '/v1/cron/refresh', schedule: '* * * * *' },
        { path: '/v1/cron/alert-rules', schedule: '* * * * *' },
        { path: '/v1/cron/notify', schedule: '* * * * *' },
        { path: '/v1/cron/webhooks', schedule: '* * * * *' },
        { path: '/v1/cron/stuck', schedule: '*/5 * * * *' },
        { path: '/v1/cron/cleanup', schedule: '0 * * * *' },
      ],
    });
    assert.match(result.stderr, /alert notifications and application webhooks can be up to a minute late/);
    assert.match(result.stderr, /Authorization: Bearer \$CRON_SECRET/);
    assert.match(result.stderr, /TOKENKEEPER_CRON_SECRET/);
  });

  test('rounds the sweep interval to minute cron syntax, never to a longer period than configured', async () => {
    const cases: [string, string][] = [
      ['300', '*/5 * * * *'],
      ['420', '*/6 * * * *'],
      ['90', '* * * * *'],
      ['3600', '0 * * * *'],
      ['7200', '0 */2 * * *'],
      ['18000', '0 */4 * * *'],
      ['86400', '0 0 * * *'],
    ];
    for (const [interval, schedule] of cases) {
      const result = await run(['deploy', 'vercel-crons'], { TOKENKEEPER_SWEEP_INTERVAL: interval });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(schedules(result.stdout)['/v1/cron/refresh'], schedule, `sweep interval ${interval} s`);
      assert.equal(schedules(result.stdout)['/v1/cron/cleanup'], '0 * * * *');
    }
  });

  test('a sub-minute sweep interval becomes every minute, and stderr says so', async () => {
    const result = await run(['deploy', 'vercel-crons'], { TOKENKEEPER_SWEEP_INTERVAL: '5' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(schedules(result.stdout)['/v1/cron/refresh'], '* * * * *');
    assert.match(result.stderr, /5 s.*one minute|one minute.*5 s/s);
  });

  test('--help explains the command; an unknown target is a usage error', async () => {
    const help = await run(['deploy', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /vercel-crons/);
    const subHelp = await run(['deploy', 'vercel-crons', '--help']);
    assert.equal(subHelp.code, 0);
    assert.match(subHelp.stdout, /Usage: tokenkeeper deploy vercel-crons/);
    assert.equal(subHelp.stderr, '');
    const unknown = await run(['deploy', 'vercel-cron']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /did you mean "deploy vercel-crons"/);
    const overview = await run(['--help']);
    assert.match(overview.stdout, /\n {2}deploy +\S/);
  });

  test('the real executable prints only the JSON on stdout, so it can be piped into a file', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'deploy', 'vercel-crons'], {
      cwd,
      env: { PATH: process.env.PATH ?? '', TOKENKEEPER_DATA_DIR: cwd, TOKENKEEPER_SWEEP_INTERVAL: '600' },
    });
    assert.equal(schedules(stdout)['/v1/cron/refresh'], '*/10 * * * *');
    assert.match(stderr, /CRON_SECRET/);
  });
});
