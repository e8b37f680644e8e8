import type { Command } from './command.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { reportError, reportUsageError } from './report-error.ts';
import { closestMatch } from '../closest-match.ts';
import { tokenkeeperVersion } from './version.ts';

export const commands: readonly Command[] = [
  {
    name: 'serve',
    summary: 'run the HTTP API, web page and refresh scheduler (and the sandbox in development)',
    load: async () => (await import('./serve-command.ts')).runServeCommand,
  },
  {
    name: 'sandbox',
    summary: 'run only the sandbox OAuth provider (login, consent, rotating refresh tokens, fault switches)',
    load: async () => (await import('./sandbox-command.ts')).runSandboxCliCommand,
  },
  {
    name: 'migrate',
    summary: 'apply pending database migrations (or --status to list them)',
    load: async () => (await import('./migrate-command.ts')).runMigrateCommand,
  },
  {
    name: 'doctor',
    summary: 'check configuration, storage, keys, integrations and ports; print a report',
    load: async () => (await import('./doctor-command.ts')).runDoctorCommand,
  },
  {
    name: 'keys',
    summary: 'create, list and revoke API keys; generate an encryption key',
    load: async () => (await import('./keys-command.ts')).runKeysCommand,
  },
  {
    name: 'integrations',
    summary: 'add, list and remove integrations (provider + client credentials)',
    load: async () => (await import('./integrations-command.ts')).runIntegrationsCommand,
  },
  {
    name: 'connections',
    summary: 'list, show and delete connections (never shows tokens)',
    load: async () => (await import('./connections-command.ts')).runConnectionsCommand,
  },
  {
    name: 'actions',
    summary: 'list, preview and execute actions (typed calls to a provider API) through a connection',
    load: async () => (await import('./actions-command.ts')).runActionsCommand,
  },
  {
    name: 'webhooks',
    summary: 'endpoints of your application that receive connection events; delivery log, redelivery',
    load: async () => (await import('./webhooks-command.ts')).runWebhooksCommand,
  },
  {
    name: 'alerts',
    summary: 'list alerts and their stats, test the channels, silence and unsilence',
    load: async () => (await import('./alerts-command.ts')).runAlertsCommand,
  },
  {
    name: 'stuck',
    summary: 'list stuck connections and what would unstick them',
    load: async () => (await import('./stuck-command.ts')).runStuckCommand,
  },
  {
    name: 'refresh',
    summary: 'refresh one connection now, or run the refresh sweep once (--all-due)',
    load: async () => (await import('./refresh-command.ts')).runRefreshCommand,
  },
  {
    name: 'deploy',
    summary: 'print deployment configuration (vercel-crons: the vercel.json crons of the serverless shape)',
    load: async () => (await import('./deploy-command.ts')).runDeployCommand,
  },
  {
    name: 'rotate-keys',
    summary: 're-encrypt every stored secret under the newest encryption key (resumable)',
    load: async () => (await import('./rotate-keys-command.ts')).runRotateKeysCommand,
  },
];

export function overview(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return `Tokenkeeper ${tokenkeeperVersion()}: keeps your users' OAuth connections alive.

Usage: tokenkeeper <command> [options]

Commands:
${commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

Run \`tokenkeeper <command> --help\` for a command's options.
Configuration comes from environment variables and .env (docs/configuration.md);
every command is described in docs/cli.md.

Options:
  -h, --help     show this overview
  -v, --version  print the version
`;
}

/**
 * Runs one command line (without `node` and the script) and returns the exit code. Everything
 * a command may throw ends here and becomes a readable message (report-error.ts).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    io.stdout(overview());
    return EXIT_OK;
  }
  if (name === '-v' || name === '--version' || name === 'version') {
    io.stdout(`${tokenkeeperVersion()}\n`);
    return EXIT_OK;
  }
  if (name === 'help') {
    if (rest[0] === undefined) {
      io.stdout(overview());
      return EXIT_OK;
    }
    return runCli([rest[0], '--help'], io);
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    const names = commands.map((candidate) => candidate.name);
    if (name.startsWith('-')) return reportUsageError(`unknown option ${JSON.stringify(name)}; options go after the command`, '', io);
    const suggestion = closestMatch(name, names);
    return reportUsageError(
      `unknown command ${JSON.stringify(name)}${suggestion ? `; did you mean "tokenkeeper ${suggestion}"?` : ` (commands: ${names.join(', ')})`}`,
      '',
      io,
    );
  }
  try {
    const run = await command.load();
    return await run(rest, io);
  } catch (error) {
    return reportError(error, io);
  }
}

/**
 * The process entry point used by bin/tokenkeeper.js: real stdout/stderr/stdin, the process
 * environment (read by src/config only, through `loadConfig({ env })`), and the exit code.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const io: CliIo = {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    readStdin,
    stderrIsTTY: process.stderr.isTTY === true,
  };
  const code = await runCli(argv, io);
  process.exitCode = code;
  // A finished command must not hang on a stray keep-alive socket or timer. The timer is
  // unref'd: it fires only if something still holds the event loop a second later, long after
  // the output was written.
  setTimeout(() => process.exit(code), 1_000).unref();
}

/**
 * All of stdin; on a terminal, one line typed without echo (for a secret), with a prompt on
 * stderr.
 */
async function readStdin(options: { visible?: string } = {}): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY || options.visible !== undefined) {
    // Visible input (a JSON document) is read to its end: on a terminal, until Ctrl-D.
    if (stdin.isTTY) process.stderr.write(`${options.visible}\n`);
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString('utf8');
  }
  process.stderr.write('Client secret (input hidden, Enter to finish): ');
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (error?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return done();
        if (char === '\u0003') return done(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.on('data', onData);
  });
}
