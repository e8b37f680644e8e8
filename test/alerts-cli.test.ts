import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, type CliIo } from '../src/cli/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { hashSecret, KeyRing } from '../src/crypto/index.ts';
import { generateWebhookSecret, verifyWebhook } from '../src/delivery/index.ts';
import { newId } from '../src/ids.ts';
import { createMemoryLogger } from '../src/logger.ts';
import { createTokenkeeper, type Tokenkeeper } from '../src/service.ts';
import { insertConnectSession } from '../src/store/index.ts';
import { testDialects } from './helpers/test-database.ts';
import { testStorage, type TestStorage } from './helpers/test-storage.ts';

/**
 * `tokenkeeper alerts …` and `tokenkeeper stuck`, run in-process like the other CLI tests, on an
 * installation whose webhook channel posts to a local receiver that verifies the signature. The
 * commands use the real clock, so the data they read is written with times in the past.
 */

const MINUTE = 60_000;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], env: Record<string, string>): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), env, cwd: env.TOKENKEEPER_DATA_DIR! };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

const ALERT_KEYS = [
  'escalated', 'first_seen_at', 'group_key', 'id', 'key', 'labels', 'last_notified_at', 'last_seen_at', 'notification_count', 'resolved_at', 'severity', 'silenced', 'state', 'summary', 'type',
];
const SILENCE_KEYS = ['comment', 'created_at', 'created_by', 'ends_at', 'expired_at', 'global', 'id', 'matchers', 'starts_at', 'state'];
const STUCK_KEYS = [
  'action', 'connection_id', 'id', 'integration', 'kind', 'owner_id', 'provider', 'reason', 'reconnect', 'severity', 'since', 'state', 'stuck_for_seconds', 'terminal', 'threshold_seconds',
];

for (const dialect of testDialects()) {
  describe(`tokenkeeper alerts and stuck (${dialect})`, () => {
    const secret = generateWebhookSecret();
    const received: { type: string }[] = [];
    let answer = 200;
    let server: Server;
    let storage: TestStorage;
    let dataDir: string;
    let env: Record<string, string>;

    /** A Tokenkeeper on the installation's storage, for writing what the commands then read. */
    async function withInstance<T>(work: (tk: Tokenkeeper) => Promise<T>): Promise<T> {
      const tk = await createTokenkeeper({ config: loadConfig({ env, dotenvPath: false }), logger: createMemoryLogger() });
      try {
        return await work(tk);
      } finally {
        await tk.close();
      }
    }

    before(async () => {
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          try {
            verifyWebhook(secret, request.headers as Record<string, string>, body);
          } catch {
            response.writeHead(401).end();
            return;
          }
          if (answer === 200) received.push({ type: JSON.parse(body).type });
          response.writeHead(answer).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      storage = await testStorage(dialect);
      dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-alerts-cli-'));
      env = {
        TOKENKEEPER_DATA_DIR: dataDir,
        TOKENKEEPER_SANDBOX: 'false',
        TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
        TOKENKEEPER_ALERT_WEBHOOK_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        TOKENKEEPER_ALERT_WEBHOOK_SECRET: secret,
        USER: 'olga',
        ...storage.env,
      };
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await storage.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('alerts test sends through every channel and prints each result; exit 1 when one fails', async () => {
      const ok = await run(['alerts', 'test'], env);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^CHANNEL +TARGET +RESULT\n/);
      assert.match(ok.stdout, /^console +the log +ok/m);
      assert.match(ok.stdout, /^webhook +http:\/\/127\.0\.0\.1:\d+ +ok/m);
      assert.match(ok.stdout, /Every channel delivered test notification ntf_/);
      assert.deepEqual(received.map((message) => message.type), ['alert.test']);

      const json = await run(['alerts', 'test', '--json'], env);
      const report = JSON.parse(json.stdout);
      assert.deepEqual(Object.keys(report).sort(), ['id', 'ok', 'results', 'sent_at']);
      assert.deepEqual(Object.keys(report.results[0]).sort(), ['channel', 'duration_ms', 'error', 'min_severity', 'ok', 'target']);

      answer = 500;
      const failed = await run(['alerts', 'test'], env);
      answer = 200;
      assert.equal(failed.code, 1);
      assert.match(failed.stdout, /^webhook +\S+ +FAILED: .*500/m);
      assert.doesNotMatch(failed.stdout + failed.stderr, new RegExp(secret.slice(6, 20)));
    });

    test('alerts silence, silences and unsilence: matchers, the global silence, history; usage mistakes exit 2', async () => {
      const created = await run(['alerts', 'silence', '--type', 'connection_stuck', '--label', 'integration=google', '--severity', 'low', '--for', '2h', '--comment', 'known'], env);
      assert.equal(created.code, 0, created.stderr);
      const id = /\((sil_[a-z2-7]{20})\)/.exec(created.stdout)?.[1];
      assert.ok(id, created.stdout);
      assert.match(created.stdout, /^Silenced alerts matching type=connection_stuck severity=LOW integration=google until \d{4}-/);

      const listed = JSON.parse((await run(['alerts', 'silences', '--json'], env)).stdout);
      const silence = listed.data.find((item: { id: string }) => item.id === id);
      assert.deepEqual(Object.keys(silence).sort(), SILENCE_KEYS);
      assert.equal(silence.state, 'active');
      assert.equal(silence.created_by, 'cli (olga)');
      assert.deepEqual(silence.matchers, { type: 'connection_stuck', key: null, severity: 'LOW', labels: { integration: 'google' } });
      const hours = (Date.parse(silence.ends_at) - Date.parse(silence.starts_at)) / 3_600_000;
      assert.equal(hours, 2);
      assert.match((await run(['alerts', 'silences'], env)).stdout, new RegExp(`^${id} +active +type=connection_stuck severity=LOW integration=google`, 'm'));

      const expired = await run(['alerts', 'unsilence', id], env);
      assert.equal(expired.code, 0, expired.stderr);
      assert.match(expired.stdout, /^Expired silence sil_/);
      assert.match((await run(['alerts', 'silences', '--state', 'expired'], env)).stdout, new RegExp(`^${id} +expired`, 'm'));

      const until = new Date(Date.now() + 3_600_000).toISOString();
      const global = await run(['alerts', 'silence', '--all', '--until', until, '--by', 'maintenance-bot', '--json'], env);
      assert.equal(global.code, 0, global.stderr);
      assert.equal(JSON.parse(global.stdout).global, true);
      assert.equal(JSON.parse(global.stdout).created_by, 'maintenance-bot');
      assert.match((await run(['alerts', 'unsilence', '--all'], env)).stdout, /^Ended the global silence/);
      assert.match((await run(['alerts', 'unsilence', '--all'], env)).stdout, /^There was no global silence/);

      for (const [argv, message] of [
        [['alerts', 'silence', '--for', '2h'], /give at least one matcher/],
        [['alerts', 'silence', '--all', '--type', 'x', '--for', '2h'], /--all silences every alert/],
        [['alerts', 'silence', '--type', 'x'], /--for <duration>.*--until <time>/],
        [['alerts', 'silence', '--type', 'x', '--for', '2h', '--until', until], /one of them/],
        [['alerts', 'silence', '--type', 'x', '--for', 'soon'], /--for takes a duration/],
        [['alerts', 'silence', '--type', 'x', '--until', 'tomorrow'], /--until: "tomorrow" is not an ISO 8601 date-time/],
        [['alerts', 'silence', '--label', 'google', '--for', '1h'], /--label takes name=value/],
        [['alerts', 'silence', '--severity', 'urgent', '--for', '1h'], /--severity takes LOW, MEDIUM or HIGH/],
        [['alerts', 'unsilence'], /missing <id>/],
        [['alerts', 'silences', '--state', 'old'], /--state takes active, pending, expired/],
      ] as const) {
        const result = await run([...argv], env);
        assert.equal(result.code, 2, `${argv.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, message);
      }
      const past = await run(['alerts', 'silence', '--type', 'x', '--until', '2001-01-01T00:00:00Z'], env);
      assert.equal(past.code, 1);
      assert.match(past.stderr, /^error \[invalid_request\]: A silence must end after it starts and in the future/);
      const unknown = await run(['alerts', 'unsilence', 'sil_aaaaaaaaaaaaaaaaaaaa'], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^error \[silence_not_found\]/);
      assert.match(unknown.stderr, /tokenkeeper alerts silences/);
      const badId = await run(['alerts', 'unsilence', 'con_aaaaaaaaaaaaaaaaaaaa'], env);
      assert.match(badId.stderr, /^error \[invalid_id\]: "con_aaaaaaaaaaaaaaaaaaaa" is not a silence id/);
    });

    test('alerts list and stats print tables, or the API’s JSON', async () => {
      await withInstance(async (tk) => {
        await tk.alerts.raise({ type: 'cli_list', key: 'one', severity: 'HIGH', labels: { integration: 'google' }, summary: 'google is refusing refreshes' });
        await tk.alerts.raise({ type: 'cli_list', key: 'two', severity: 'LOW', summary: 'a minor thing' });
        await tk.alerts.resolve('cli_list', 'two');
        await new Promise((resolve) => setTimeout(resolve, 5));
        await tk.alerts.raise({ type: 'cli_list', key: 'one', severity: 'HIGH', labels: { integration: 'google' }, summary: 'google is refusing refreshes' });
      });
      const table = await run(['alerts', 'list', '--type', 'cli_list'], env);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^TYPE +KEY +SEVERITY +STATE +SINCE +NOTIFIED +SUMMARY\n/);
      assert.match(table.stdout, /^cli_list +one +HIGH +firing +.* +never +google is refusing refreshes$/m);
      assert.match(table.stdout, /^cli_list +two +LOW +resolved /m);
      const firing = JSON.parse((await run(['alerts', 'list', '--type', 'cli_list', '--state', 'firing', '--since', '1h', '--json'], env)).stdout);
      assert.deepEqual(firing.data.map((alert: { key: string }) => alert.key), ['one']);
      assert.deepEqual(Object.keys(firing.data[0]).sort(), ALERT_KEYS);
      assert.equal((await run(['alerts', 'list', '--type', 'cli_list', '--severity', 'MEDIUM'], env)).stdout, 'No alerts match.\n');
      const bad = await run(['alerts', 'list', '--state', 'open'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--state takes firing, resolved/);
      const badSince = await run(['alerts', 'list', '--since', String(Date.now())], env);
      assert.equal(badSince.code, 2);
      assert.match(badSince.stderr, /looks like milliseconds/);

      const stats = await run(['alerts', 'stats'], env);
      assert.equal(stats.code, 0, stats.stderr);
      assert.match(stats.stdout, /^Alerts over the last 24 hours/);
      assert.match(stats.stdout, /by type +cli_list 2/);
      assert.match(stats.stdout, /suppressed by de-duplication +1\n/);
      assert.match(stats.stdout, /tests +5 sent, 1 failed/);
      const json = JSON.parse((await run(['alerts', 'stats', '--hours', '2', '--json'], env)).stdout);
      assert.deepEqual(Object.keys(json).sort(), ['alerts', 'hours', 'notifications', 'since', 'until']);
      assert.equal(json.hours, 2);
      assert.equal(json.alerts.by_type.cli_list, 2);
      assert.equal(json.notifications.suppressed_by_deduplication, 1);
      assert.equal((await run(['alerts', 'stats', '--hours', '0'], env)).code, 2);
    });

    test('stuck lists stuck connections with what would unstick them, or the API’s JSON', async () => {
      assert.equal((await run(['stuck'], env)).stdout, 'No stuck connections.\n');
      await withInstance(async (tk) => {
        const integration = await tk.integrations.create({
          key: 'acme',
          provider: 'custom',
          client_id: 'acme-client',
          client_secret: 'acme-secret',
          settings: { authorizationEndpoint: 'https://auth.acme.example/authorize', tokenEndpoint: 'https://auth.acme.example/token' },
        });
        const startedAt = Date.now() - 40 * MINUTE;
        await insertConnectSession(tk.database.db, {
          id: newId('cs'), integrationId: integration.id, ownerId: 'user-7', kind: 'user', redirectTo: null, linkHash: hashSecret(newId('cs')), stateHash: null,
          codeVerifierSealed: null, nonce: null, expiresAt: startedAt + 10 * MINUTE, openedAt: null, consumedAt: null, createdAt: startedAt,
        });
      });
      const table = await run(['stuck'], env);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^SEVERITY +STATE +STUCK FOR +INTEGRATION +OWNER +ID +TERMINAL\n/);
      assert.match(table.stdout, /^LOW +connect_session +40m \d+s +acme +user-7 +cs_[a-z2-7]{20} +no$/m);
      assert.match(table.stdout, /What would unstick them:\n +cs_[a-z2-7]{20}: The connect link for owner user-7 was never opened/);

      const json = JSON.parse((await run(['stuck', '--terminal', 'false', '--json'], env)).stdout);
      assert.deepEqual(Object.keys(json).sort(), ['data', 'thresholds']);
      assert.deepEqual(Object.keys(json.data[0]).sort(), STUCK_KEYS);
      assert.equal(json.data[0].severity, 'LOW');
      assert.deepEqual(json.data[0].reconnect, { integration: 'acme', owner_id: 'user-7', kind: 'user' });
      assert.equal((await run(['stuck', '--severity', 'high'], env)).stdout, 'No stuck connections match.\n');
      const bad = await run(['stuck', '--terminal', 'maybe'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--terminal takes true or false/);
    });
  });
}
