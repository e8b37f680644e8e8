import { parseArgs } from 'node:util';
import { createLogger } from '../logger.ts';
import { SANDBOX_DEFAULT_CLIENT, DEFAULT_REDIRECT_URIS } from './sandbox-client.ts';
import { startSandbox } from './start-sandbox.ts';

export interface SandboxCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Stops the sandbox like SIGINT would; for tests and embedding. */
  signal?: AbortSignal;
}

export const SANDBOX_USAGE = `Usage: tokenkeeper sandbox [options]

Runs the sandbox OAuth 2.0 / OpenID Connect provider on this machine, for development and
demos: login and consent pages (any username), short-lived access tokens, refresh-token
rotation with reuse detection, a demo API and fault switches. Runs until Ctrl+C.

Options:
  --port <port>                TCP port (default 3171; 0 picks a free one)
  --host <address>             address to listen on (default 127.0.0.1)
  --access-token-ttl <seconds> access-token lifetime (default 120)
  --refresh-token-ttl <seconds> refresh-token lifetime (default 1209600, 14 days)
  --redirect-uri <uri>         a redirect URI of the dev client; repeatable
                               (default ${DEFAULT_REDIRECT_URIS.join(' and ')};
                               loopback http URIs match on any port)
  -h, --help                   show this help
`;

const DEFAULT_PORT = 3171;

/** Like every other command's argument errors: the problem in one line, and where usage is. */
const USAGE_POINTER = 'Run "tokenkeeper sandbox --help" for usage.\n';

/**
 * `tokenkeeper sandbox`: returns the process exit code (0 after a clean stop or --help, 1 when
 * the sandbox cannot start, 2 for bad flags).
 */
export async function runSandboxCommand(argv: string[], io: SandboxCommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'access-token-ttl': { type: 'string' },
        'refresh-token-ttl': { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.stderr(`error: ${(error as Error).message}\n${USAGE_POINTER}`);
    return 2;
  }

  if (values.help) {
    io.stdout(SANDBOX_USAGE);
    return 0;
  }

  const problems: string[] = [];
  const integer = (flag: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`--${flag} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const port = integer('port', values.port, DEFAULT_PORT, 0, 65_535);
  const accessTokenTtlSeconds = integer('access-token-ttl', values['access-token-ttl'], 120, 1, 365 * 24 * 3600);
  const refreshTokenTtlSeconds = integer('refresh-token-ttl', values['refresh-token-ttl'], 14 * 24 * 3600, 1, 10 * 365 * 24 * 3600);
  const redirectUris = values['redirect-uri'];
  for (const uri of redirectUris ?? []) {
    const parsed = URL.parse(uri);
    if (!parsed || parsed.hash) problems.push(`--redirect-uri must be an absolute URI without a fragment (got "${uri}")`);
  }
  if (values.host !== undefined && values.host.trim() === '') problems.push('--host must not be empty');
  if (problems.length > 0) {
    io.stderr(`${problems.map((problem) => `error: ${problem}`).join('\n')}\n${USAGE_POINTER}`);
    return 2;
  }

  const logger = createLogger({ level: 'info', format: 'pretty', sink: { write: (line) => io.stderr(line) } });
  let sandbox;
  try {
    sandbox = await startSandbox({
      port,
      host: values.host?.trim(),
      accessTokenTtlSeconds,
      refreshTokenTtlSeconds,
      redirectUris,
      logger,
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason = code === 'EADDRINUSE' ? `port ${port} is already in use (try --port 0)` : (error as Error).message;
    io.stderr(`tokenkeeper sandbox: cannot start: ${reason}\n`);
    return 1;
  }

  const { issuer } = sandbox;
  io.stdout(`Tokenkeeper sandbox OAuth provider running at ${issuer}

  issuer         ${issuer}
  discovery      ${issuer}/.well-known/openid-configuration
  client_id      ${SANDBOX_DEFAULT_CLIENT.client_id}
  client_secret  ${SANDBOX_DEFAULT_CLIENT.client_secret}
  redirect URIs  ${(redirectUris ?? DEFAULT_REDIRECT_URIS).join(', ')}
  token lifetime ${accessTokenTtlSeconds} s (refresh tokens rotate; reusing one revokes the grant)
  demo API       curl -H 'Authorization: Bearer <access token>' ${issuer}/api/me
  faults         curl -X POST ${issuer}/_sandbox/faults -H 'content-type: application/json' -d '{"errorRate5xx":0.5}'
                 (also GET /_sandbox/faults, POST /_sandbox/revoke, GET /_sandbox/stats)

Any username signs in; there are no passwords. Press Ctrl+C to stop.
`);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });

  await sandbox.close();
  io.stdout('Sandbox stopped.\n');
  return 0;
}
