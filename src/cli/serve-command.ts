import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import { DEVELOPMENT_KEY_FILE } from '../crypto/index.ts';
import { startServer, type RunningServer } from '../server.ts';
import { pageAccess } from '../web/index.ts';
import { parseCommandArgs } from './command.ts';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './io.ts';
import { createCliLogger, loadCliConfig } from './open-tokenkeeper.ts';
import { tokenkeeperVersion } from './version.ts';

const USAGE = `Usage: tokenkeeper serve

Runs Tokenkeeper: the HTTP API, the web page and the proactive refresh scheduler, after
applying pending database migrations. In development it also runs the sandbox OAuth provider
beside it with a ready "sandbox" integration (its grants kept in <data dir>/sandbox-state.db, so
a restart keeps sandbox connections alive), and prints an API key and a curl command to try.
Stops cleanly on Ctrl+C (SIGINT) or SIGTERM. \`npm start\` runs this command.

Everything is configured through environment variables or a .env file in the working directory
(docs/configuration.md), e.g. TOKENKEEPER_PORT (default 3170), TOKENKEEPER_PUBLIC_URL,
TOKENKEEPER_DATA_DIR (default ./data), TOKENKEEPER_ENCRYPTION_KEYS, TOKENKEEPER_ENV.

Options:
  -h, --help   show this help
`;

/**
 * The scheduler (the sweep, the alert rules, pg-boss's workers) starts this long after the port is
 * bound: time for the first requests, a readiness probe's among them, before its first ticks take
 * the thread and the database pool. The same pause as the schema warm-up's (lazy-schema-compilers.ts).
 */
const SCHEDULER_DELAY_MS = 1_000;

export async function runServeCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('serve', argv, {});
  if (values.help) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  const config = loadCliConfig(io);
  const logger = createCliLogger(config, io, 'debug');
  // Listen for Ctrl+C/SIGTERM before anything starts: `/ready` answers as soon as the port is
  // bound, while start-up work goes on (system connections minted, the scheduler started), and
  // whoever reads it or the banner (a supervisor, a person, a test) may signal at once. Before a
  // listener exists a signal kills the process with nothing closed: a refresh lease left held
  // makes the next instance wait it out. A signal during start-up stops the server once started.
  const stop = waitForStop(io);
  let running: RunningServer;
  try {
    running = await startServer(config, { logger, schedulerDelayMs: SCHEDULER_DELAY_MS });
  } catch (error) {
    stop.cancel();
    const explained = explainStartFailure(error, config);
    if (explained === null) throw error;
    io.stderr(`tokenkeeper serve: cannot start: ${explained}\n`);
    return EXIT_FAILURE;
  }
  if (!stop.requested()) io.stdout(banner(config, running));

  await stop.stopped;
  io.stderr('Stopping… (press Ctrl+C again to quit at once)\n');
  try {
    await running.close();
  } finally {
    process.off('SIGINT', forceQuit);
    process.off('SIGTERM', forceQuit);
  }
  io.stdout('Tokenkeeper stopped.\n');
  return EXIT_OK;
}

/** What an operator needs after start: where to go, how to call the API, where data lives. */
function banner(config: Readonly<Config>, running: RunningServer): string {
  const url = running.url;
  const rows: [string, string][] = [pageRow(config, url)];
  rows.push(['API', `${url}/v1   (OpenAPI document: ${url}/openapi.json, health: ${url}/health)`]);
  if (running.sandbox) {
    rows.push(['Sandbox provider', `${running.sandbox.issuer}   (the "sandbox" integration uses it; any username signs in)`]);
    if (running.sandbox.stateFile) {
      rows.push(['Sandbox state', `${running.sandbox.stateFile}   (its grants and tokens, kept across restarts; development only)`]);
    }
  }
  if (running.developmentApiKey) {
    rows.push(['API key', `${running.developmentApiKey}   (development only; kept in ${join(config.dataDir, 'dev-api-key')})`]);
    rows.push(['Try', `curl -H "Authorization: Bearer ${running.developmentApiKey}" ${url}/v1/connections`]);
  } else {
    rows.push(['API key', 'create one with `tokenkeeper keys create --name <name>`']);
  }
  rows.push(['OAuth callback', `${config.callbackUrl}   (register this redirect URI at each provider)`]);
  rows.push(['Data', `${running.tk.database.location}`]);
  rows.push([
    'Encryption',
    config.encryptionKeys === null
      ? `development key in ${join(config.dataDir, DEVELOPMENT_KEY_FILE)} (production needs TOKENKEEPER_ENCRYPTION_KEYS)`
      : `AES-256-GCM, primary key "${running.tk.keyRing.primaryKeyId}"`,
  ]);
  rows.push([
    'Refresh sweep',
    config.sweepIntervalSeconds > 0 ? `every ${config.sweepIntervalSeconds} s` : 'off (TOKENKEEPER_SWEEP_INTERVAL=0: call POST /v1/cron/refresh from a scheduler)',
  ]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return (
    `\nTokenkeeper ${tokenkeeperVersion()} is running (${config.env}).\n\n` +
    rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}\n`).join('') +
    (running.sandbox ? `\nOpen ${url}/ and press Connect on the sandbox integration to connect a test account.\n` : '') +
    '\nPress Ctrl+C to stop.\n'
  );
}

/** The web page's row: "Open" only when there is a page to open (src/web/page-access.ts). */
function pageRow(config: Readonly<Config>, url: string): [string, string] {
  const access = pageAccess(config);
  if (access.kind === 'off') return ['Web page', 'off in production; set TOKENKEEPER_DASHBOARD_PASSWORD to turn it on'];
  if (access.kind === 'password') return ['Open', `${url}/   (sign in with TOKENKEEPER_DASHBOARD_PASSWORD, any username)`];
  return ['Open', `${url}/`];
}

/**
 * Resolves `stopped` on SIGINT, SIGTERM or `io.signal`. From then on a second signal quits at once
 * (exit 130), for a shutdown that hangs on a stuck connection; the caller removes that handler
 * once it has closed everything. `cancel` removes the listeners (start-up failed).
 */
function waitForStop(io: CliIo): { stopped: Promise<void>; requested(): boolean; cancel(): void } {
  let requested = false;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  const listen = (on: boolean): void => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      if (on) process.on(signal, stop);
      else process.off(signal, stop);
    }
    if (!on) io.signal?.removeEventListener('abort', stop);
  };
  const stop = (): void => {
    listen(false);
    requested = true;
    process.once('SIGINT', forceQuit);
    process.once('SIGTERM', forceQuit);
    resolveStopped();
  };
  listen(true);
  if (io.signal?.aborted) stop();
  else io.signal?.addEventListener('abort', stop, { once: true });
  return {
    stopped,
    requested: () => requested,
    cancel: () => {
      listen(false);
      process.off('SIGINT', forceQuit);
      process.off('SIGTERM', forceQuit);
    },
  };
}

function forceQuit(): void {
  process.exit(130);
}

/**
 * Start-up failures an operator can fix, told in their terms (which port, which variable), or
 * null for anything else (then main.ts reports it).
 */
export function explainStartFailure(error: unknown, config: Readonly<Config>): string | null {
  const code = (error as { code?: unknown })?.code;
  const port = (error as { port?: unknown })?.port;
  const isSandboxPort = config.sandbox.enabled && port === config.sandbox.port && port !== config.port;
  const variable = isSandboxPort ? 'TOKENKEEPER_SANDBOX_PORT' : 'TOKENKEEPER_PORT';
  const what = isSandboxPort ? 'the sandbox provider' : 'Tokenkeeper';
  const shownPort = typeof port === 'number' ? port : isSandboxPort ? config.sandbox.port : config.port;
  if (code === 'EADDRINUSE') {
    return (
      `port ${shownPort} (for ${what}) is already in use — probably another Tokenkeeper, or another program.\n` +
      `Stop it, or choose a free port with ${variable}=<port>` +
      (isSandboxPort
        ? ' (or turn the sandbox off with TOKENKEEPER_SANDBOX=false).'
        : ' (TOKENKEEPER_PUBLIC_URL follows it unless you set that too).')
    );
  }
  if (code === 'EACCES') {
    return `not allowed to listen on port ${shownPort} (for ${what}); ports below 1024 need extra privileges. Choose another with ${variable}=<port>.`;
  }
  if (code === 'EADDRNOTAVAIL') {
    return `cannot listen on ${config.host}: this machine has no such address. Set TOKENKEEPER_HOST to 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces).`;
  }
  return null;
}
