import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { runSandboxCommand, SANDBOX_DEFAULT_CLIENT } from '../src/sandbox/index.ts';

function captureIo(signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text), signal },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

async function waitFor(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('tokenkeeper sandbox (command)', () => {
  test('--help prints usage and returns 0', async () => {
    const capture = captureIo();
    assert.equal(await runSandboxCommand(['--help'], capture.io), 0);
    assert.match(capture.stdout(), /Usage: tokenkeeper sandbox/);
    assert.match(capture.stdout(), /--redirect-uri/);
    assert.equal(capture.stderr(), '');
  });

  for (const [argv, expected] of [
    [['--nope'], /Unknown option '--nope'/],
    [['--port', 'abc'], /--port must be an integer from 0 to 65535/],
    [['--port', '70000'], /--port must be an integer/],
    [['--access-token-ttl', '0'], /--access-token-ttl must be an integer from 1/],
    [['--redirect-uri', 'not a uri'], /--redirect-uri must be an absolute URI/],
    [['extra'], /positional/i],
  ] as const) {
    test(`bad flags (${argv.join(' ')}) print the problem and a pointer to --help, and return 2`, async () => {
      const capture = captureIo();
      assert.equal(await runSandboxCommand([...argv], capture.io), 2);
      assert.match(capture.stderr(), expected);
      assert.match(capture.stderr(), /^error: .*\nRun "tokenkeeper sandbox --help" for usage\.\n$/);
      assert.doesNotMatch(capture.stderr(), /Usage: tokenkeeper sandbox/);
      assert.equal(capture.stdout(), '');
    });
  }

  test('runs, prints the issuer and the dev credentials, serves until stopped, returns 0', async () => {
    const stop = new AbortController();
    const capture = captureIo(stop.signal);
    let finished = false;
    const exit = runSandboxCommand(['--port', '0', '--access-token-ttl', '30', '--redirect-uri', 'https://app.example/cb'], capture.io)
      .finally(() => (finished = true));
    await waitFor(() => capture.stdout().includes('Ctrl+C') || finished);
    assert.equal(finished, false, capture.stderr());

    const issuer = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(capture.stdout())?.[1];
    assert.ok(issuer, capture.stdout());
    assert.ok(capture.stdout().includes(SANDBOX_DEFAULT_CLIENT.client_id));
    assert.ok(capture.stdout().includes(SANDBOX_DEFAULT_CLIENT.client_secret));
    assert.ok(capture.stdout().includes('https://app.example/cb'));

    const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, issuer);
    const credentials = Buffer.from(`${SANDBOX_DEFAULT_CLIENT.client_id}:${SANDBOX_DEFAULT_CLIENT.client_secret}`).toString('base64');
    const token = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=api',
    });
    assert.equal(((await token.json()) as { expires_in: number }).expires_in, 30);

    stop.abort();
    assert.equal(await exit, 0);
    assert.match(capture.stdout(), /Sandbox stopped/);
    await assert.rejects(fetch(`${issuer}/.well-known/openid-configuration`));
  });

  test('a port in use is reported and returns 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const capture = captureIo();
      assert.equal(await runSandboxCommand(['--port', String(port)], capture.io), 1);
      assert.match(capture.stderr(), new RegExp(`port ${port} is already in use`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('tokenkeeper sandbox (process)', () => {
  const sandboxModule = fileURLToPath(new URL('../src/sandbox/index.ts', import.meta.url));
  const loginModule = fileURLToPath(new URL('./helpers/sandbox-login.ts', import.meta.url));

  function runNode(source: string): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A safety net, not an assertion: a process that never exits would otherwise hang the suite.
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      child.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code, stdout, stderr });
      });
    });
    return { child, done };
  }

  test('a whole flow prints nothing (no oidc-provider warnings) and the process exits after close()', async () => {
    const { done } = runNode(`
      import { createHash, randomBytes } from 'node:crypto';
      import { startSandbox, SANDBOX_DEFAULT_CLIENT } from ${JSON.stringify(sandboxModule)};
      import { completeSandboxLogin } from ${JSON.stringify(loginModule)};
      const sandbox = await startSandbox();
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const redirect = 'http://localhost:3170/oauth/callback';
      const auth = new URL(sandbox.issuer + '/auth');
      auth.search = new URLSearchParams({ client_id: SANDBOX_DEFAULT_CLIENT.client_id, response_type: 'code', redirect_uri: redirect,
        scope: 'openid api', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }).toString();
      const callback = await completeSandboxLogin(auth);
      const basic = 'Basic ' + Buffer.from(SANDBOX_DEFAULT_CLIENT.client_id + ':' + SANDBOX_DEFAULT_CLIENT.client_secret).toString('base64');
      const post = (body) => fetch(sandbox.issuer + '/token', { method: 'POST', headers: { authorization: basic,
        'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) }).then((r) => r.json());
      const tokens = await post({ grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: redirect, code_verifier: verifier });
      await post({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      await post({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      await post({ grant_type: 'client_credentials' });
      await fetch(sandbox.issuer + '/me', { headers: { authorization: 'Bearer ' + tokens.access_token } }).then((r) => r.text());
      await fetch(sandbox.issuer + '/auth?client_id=unknown').then((r) => r.text());
      await fetch(sandbox.issuer + '/session/end').then((r) => r.text());
      await completeSandboxLogin(auth, { deny: true });
      await sandbox.close();
      process.stdout.write('done\\n');
    `);
    const { code, stdout, stderr } = await done;
    assert.equal(stderr, '');
    assert.equal(stdout, 'done\n');
    assert.equal(code, 0);
  });

  test('SIGINT stops `tokenkeeper sandbox` cleanly with exit code 0', async () => {
    const { child, done } = runNode(`
      import { runSandboxCommand } from ${JSON.stringify(sandboxModule)};
      process.exitCode = await runSandboxCommand(['--port', '0'], {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      });
    `);
    let output = '';
    let exited = false;
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', () => (exited = true));
    await waitFor(() => output.includes('Ctrl+C') || exited);
    assert.equal(exited, false, 'the sandbox command exited before it was stopped');
    const issuer = /running at (\S+)/.exec(output)![1]!;
    assert.equal((await fetch(`${issuer}/.well-known/openid-configuration`)).status, 200);
    child.kill('SIGINT');
    const { code, stdout } = await done;
    assert.equal(code, 0);
    assert.match(stdout, /Sandbox stopped/);
  });
});
