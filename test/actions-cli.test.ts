/**
 * `tokenkeeper actions list | preview | execute`, run in-process like the other CLI tests, on the
 * storage of a harness that holds a real sandbox connection: the commands open that installation
 * as an operator's shell would (its data dir or database, its keys) and act through the sandbox
 * provider's demo API, whose notes the test reads back through the harness's proxy.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, type CliIo } from '../src/cli/index.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { testDialects } from './helpers/test-database.ts';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const NOTE = '{"title":"Hi","text":"from the CLI"}';

for (const dialect of testDialects()) {
  describe(`tokenkeeper actions (${dialect})`, () => {
    let h: Harness;
    let env: Record<string, string>;
    let connectionId: string;
    let accessToken: string;

    async function run(argv: string[], stdin?: string): Promise<RunResult> {
      let stdout = '';
      let stderr = '';
      const io: CliIo = {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
        env,
        cwd: h.dataDir,
        readStdin: stdin === undefined ? undefined : async () => stdin,
      };
      const code = await runCli(argv, io);
      // No output may carry the connection's token, success or failure.
      assert.ok(!(stdout + stderr).includes(accessToken), `${argv.join(' ')} printed the token`);
      return { code, stdout, stderr };
    }

    /** The connection's notes at the sandbox's demo API, read through the harness's proxy. */
    async function notes(): Promise<Array<{ id: string; title: string; text: string }>> {
      const listed = await h.api('GET', `/v1/proxy/${connectionId}/notes`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body.notes;
    }

    before(async () => {
      // Tokens that outlive the test: the commands use the real clock, the harness a manual one.
      h = await startHarness({ dialect, sandbox: { accessTokenTtlSeconds: 3600 } });
      connectionId = await h.connect('cli-notes-user', 'cli');
      const token = await h.api('GET', `/v1/connections/${connectionId}/token`);
      assert.equal(token.status, 200, JSON.stringify(token.body));
      accessToken = token.body.access_token;
      env = {
        TOKENKEEPER_DATA_DIR: h.dataDir,
        TOKENKEEPER_ENCRYPTION_KEYS: h.encryptionKeys,
        TOKENKEEPER_SANDBOX: 'false',
        ...(h.databaseUrl ? { DATABASE_URL: h.databaseUrl } : {}),
      };
    });
    after(async () => h?.close());

    test('--help of the command and each subcommand prints its usage with a sandbox example', async () => {
      for (const line of [['actions'], ['actions', 'list'], ['actions', 'preview'], ['actions', 'execute']]) {
        const result = await run([...line, '--help']);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^Usage: tokenkeeper ${line.join(' ')}`));
        assert.equal(result.stderr, '');
      }
      const execute = await run(['actions', 'execute', '--help']);
      assert.ok(execute.stdout.includes(`tokenkeeper actions execute con_… sandbox.notes.create --input '${NOTE}'`), execute.stdout);
      const overview = await run(['--help']);
      assert.match(overview.stdout, /^ {2}actions +list, preview and execute actions/m);
    });

    test('list prints a table of the actions, or with --json the API\'s {data} with input schemas', async () => {
      const table = await run(['actions', 'list']);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^NAME +PROVIDERS +INTEGRATIONS +ENABLED +SOURCE +DESCRIPTION\n/);
      assert.match(table.stdout, /^sandbox\.notes\.create +sandbox +sandbox +yes +built-in +Creates a note in the sandbox/m);
      assert.match(table.stdout, /^github\.issues\.create +github, github-app +- +yes +built-in/m, 'no configured integration offers it');
      for (const line of table.stdout.trimEnd().split('\n')) assert.ok(line.length <= 140, `a long description is trimmed: ${line}`);

      const json = await run(['actions', 'list', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const all = JSON.parse(json.stdout) as { data: Array<Record<string, any>> };
      assert.deepEqual(Object.keys(all), ['data']);
      const note = all.data.find((action) => action.name === 'sandbox.notes.create')!;
      assert.deepEqual(Object.keys(note).sort(), ['available_for', 'description', 'enabled', 'input_schema', 'integrations', 'name', 'providers', 'source']);
      assert.deepEqual(note.input_schema.required, ['title', 'text']);
      const api = await h.api('GET', '/v1/actions');
      assert.deepEqual(all, api.body, 'the same answer as GET /v1/actions');

      const sandbox = JSON.parse((await run(['actions', 'list', '--integration', 'sandbox', '--json'])).stdout) as { data: Array<{ name: string }> };
      assert.deepEqual(sandbox.data.map((action) => action.name), ['sandbox.notes.create']);
      const unknown = await run(['actions', 'list', '--integration', 'nope']);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^error \[integration_not_found\]: No integration "nope"\.\nList the configured integrations/);
    });

    test('preview prints the exact request, token redacted, and sends nothing', async () => {
      const before = await notes();
      const result = await run(['actions', 'preview', connectionId, 'sandbox.notes.create', '--input', NOTE]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(
        result.stdout,
        `POST ${h.sandbox.issuer}/api/notes\n` +
          'authorization: Bearer [redacted]\n' +
          'content-type: application/json; charset=utf-8\n' +
          '\n' +
          '{\n  "title": "Hi",\n  "text": "from the CLI"\n}\n',
      );
      assert.match(result.stderr, /^Nothing was sent\./);

      const json = await run(['actions', 'preview', connectionId, 'sandbox.notes.create', '--input', NOTE, '--json']);
      assert.equal(json.code, 0, json.stderr);
      const preview = JSON.parse(json.stdout);
      assert.equal(preview.action, 'sandbox.notes.create');
      assert.equal(preview.connection_id, connectionId);
      assert.equal(preview.integration, 'sandbox');
      assert.equal(preview.url, `${h.sandbox.issuer}/api/notes`);
      assert.equal(preview.headers.authorization, 'Bearer [redacted]');
      assert.deepEqual(preview.body, { title: 'Hi', text: 'from the CLI' });
      assert.equal(json.stderr, '', '--json keeps stderr quiet');

      assert.deepEqual(await notes(), before, 'no note was created');
    });

    test('execute creates the note and prints the outcome, status, result and duration; --json carries outcome ok', async () => {
      const before = (await notes()).length;
      const result = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input', NOTE]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^Executed sandbox\\.notes\\.create through ${connectionId} \\(integration sandbox\\)\\.\\n`));
      assert.match(result.stdout, /^ {2}outcome +ok$/m);
      assert.match(result.stdout, /^ {2}provider status +201$/m);
      assert.match(result.stdout, /^ {2}duration +\d+ms$|^ {2}duration +\d+s$/m);
      assert.match(result.stdout, /Result:\n\{\n {2}"id": "note_\d+",\n {2}"title": "Hi",\n {2}"text": "from the CLI",/);
      const afterText = await notes();
      assert.equal(afterText.length, before + 1);
      assert.deepEqual(
        { title: afterText.at(-1)!.title, text: afterText.at(-1)!.text },
        { title: 'Hi', text: 'from the CLI' },
      );

      const json = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input', '{"title":"JSON","text":"scripted"}', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const answer = JSON.parse(json.stdout);
      assert.equal(answer.outcome, 'ok');
      assert.equal(answer.provider_status, 201);
      assert.equal(answer.replayed, false);
      assert.equal(answer.connection_id, connectionId);
      assert.equal(answer.result.title, 'JSON');
      assert.equal(typeof answer.duration_ms, 'number');
      assert.ok((await notes()).some((note) => note.id === answer.result.id));
    });

    test('--input-file reads a file or standard input; with --idempotency-key a second run replays and sends nothing', async () => {
      const file = join(h.dataDir, 'note.json');
      writeFileSync(file, '{\n  "title": "From a file",\n  "text": "once"\n}\n');
      const key = `cli-${Date.now()}`;
      const before = (await notes()).length;
      const first = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input-file', 'note.json', '--idempotency-key', key, '--json']);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(JSON.parse(first.stdout).replayed, false);
      const again = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input-file', '-', '--idempotency-key', key], '{"text":"once","title":"From a file"}');
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^ {2}replayed +yes: the outcome stored for this --idempotency-key; nothing was sent again$/m);
      assert.equal((await notes()).length, before + 1, 'one note for one key');

      const reused = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input', NOTE, '--idempotency-key', key]);
      assert.equal(reused.code, 1);
      assert.match(reused.stderr, /^error \[idempotency_key_reused\]: .*\nUse a new --idempotency-key for a new input/);

      const badKey = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input', NOTE, '--idempotency-key', 'has space']);
      assert.equal(badKey.code, 2);
      assert.match(badKey.stderr, /^error: --idempotency-key must be 1 to 255 visible ASCII characters/);
    });

    test('an invalid input exits 1 naming every problem with outcome validation_error; nothing is sent', async () => {
      const before = (await notes()).length;
      const result = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input', '{"title":"","extra":1}']);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      const lines = result.stderr.split('\n');
      assert.match(lines[0]!, /^error \[invalid_request\]: Invalid input for sandbox\.notes\.create: /);
      assert.match(lines[0]!, /title/);
      assert.match(lines[0]!, /text/);
      assert.match(lines[0]!, /extra/);
      assert.equal(lines[1], 'outcome: validation_error (nothing was sent)');
      assert.match(lines[2]!, /^Fix the input; `tokenkeeper actions list --json` shows/);

      const json = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input', '{"title":"x"}', '--json']);
      assert.equal(json.code, 1);
      const body = JSON.parse(json.stdout);
      assert.equal(body.error.code, 'invalid_request');
      assert.equal(body.error.details.outcome, 'validation_error');
      assert.ok(body.error.details.problems.some((problem: string) => problem.includes('text')), JSON.stringify(body));
      assert.match(json.stderr, /^error \[invalid_request\]/);

      const preview = await run(['actions', 'preview', connectionId, 'sandbox.notes.create', '--input', '[]']);
      assert.equal(preview.code, 1);
      assert.match(preview.stderr, /^error \[invalid_request\]: Invalid input for sandbox\.notes\.create/);
      assert.equal((await notes()).length, before, 'nothing was sent');
    });

    test('an unknown action exits 1 with action_not_found and the closest name', async () => {
      const result = await run(['actions', 'execute', connectionId, 'sandbox.notes.creat', '--input', NOTE]);
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        'error [action_not_found]: No action is named "sandbox.notes.creat"; did you mean sandbox.notes.create?\n' +
          '`tokenkeeper actions list` lists every action; `tokenkeeper actions list --integration <key>` those one integration offers.\n',
      );
      const other = await run(['actions', 'preview', connectionId, 'slack.chat.post_message', '--input', '{"channel":"C1","text":"x"}']);
      assert.equal(other.code, 1);
      assert.match(other.stderr, /^error \[action_not_found\]: The integration sandbox \(sandbox\) does not offer slack\.chat\.post_message; it offers sandbox\.notes\.create\.\n/);
    });

    test('bad --input JSON, a missing input and other command-line mistakes are one-line usage errors, exit 2', async () => {
      const cases: [string[], string][] = [
        [
          ['actions', 'execute', connectionId, 'sandbox.notes.create', '--input', '{"title":'],
          'error: --input is not valid JSON (Unexpected end of JSON input)\nRun "tokenkeeper actions execute --help" for usage.\n',
        ],
        [
          ['actions', 'preview', connectionId, 'sandbox.notes.create'],
          'error: missing --input \'<json>\' or --input-file <path> (the action\'s input)\nRun "tokenkeeper actions preview --help" for usage.\n',
        ],
        [
          ['actions', 'preview', connectionId, 'sandbox.notes.create', '--input', '{}', '--input-file', 'x.json'],
          'error: give --input or --input-file, not both\nRun "tokenkeeper actions preview --help" for usage.\n',
        ],
        [
          ['actions', 'execute', connectionId, 'sandbox.notes.create', '--input-file', 'missing.json'],
          'error: --input-file "missing.json" cannot be read (no such file)\nRun "tokenkeeper actions execute --help" for usage.\n',
        ],
        [
          ['actions', 'execute', connectionId],
          'error: missing <connection-id> <action> (con_… from `tokenkeeper connections list`, a name from `tokenkeeper actions list`)\nRun "tokenkeeper actions execute --help" for usage.\n',
        ],
        [['actions', 'exec'], 'error: unknown subcommand "exec"; did you mean "actions execute"?\nRun "tokenkeeper actions --help" for usage.\n'],
      ];
      for (const [argv, stderr] of cases) {
        const result = await run(argv);
        assert.equal(result.code, 2, argv.join(' '));
        assert.equal(result.stderr, stderr, argv.join(' '));
        assert.equal(result.stdout, '');
      }
      const multiline = await run(['actions', 'execute', connectionId, 'sandbox.notes.create', '--input-file', '-'], '{\n  "title": "x",\n  oops\n}\n');
      assert.equal(multiline.code, 2);
      assert.match(multiline.stderr, /^error: --input-file - \(standard input\) is not valid JSON \([^\n]+\)\nRun "tokenkeeper actions execute --help" for usage\.\n$/);

      const badId = await run(['actions', 'execute', 'con_nope', 'sandbox.notes.create', '--input', NOTE]);
      assert.equal(badId.code, 1);
      assert.match(badId.stderr, /^error \[invalid_id\]: "con_nope" is not a connection id/);
    });
  });
}
