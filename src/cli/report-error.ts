import { ConfigError } from '../config/index.ts';
import { isTokenkeeperError, type ErrorCode, type TokenkeeperError } from '../errors.ts';
import { UsageError } from './command.ts';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_USAGE, type CliIo } from './io.ts';

/** What to do next, per error code: an error message alone leaves the operator guessing. */
const NEXT_STEPS: Partial<Record<ErrorCode, string>> = {
  integration_not_found: 'List the configured integrations with `tokenkeeper integrations list`.',
  integration_exists: 'Choose another --key, or remove the existing one first with `tokenkeeper integrations remove <key>`.',
  integration_in_use: 'Delete its connections first (`tokenkeeper connections list --integration <key>`), or pass --force to delete them with it.',
  integration_disabled: 'Enable the integration again through the API (PATCH /v1/integrations/<key> {"enabled": true}).',
  unknown_provider: 'See `tokenkeeper integrations add --help` for the provider keys.',
  connection_not_found: 'List connections with `tokenkeeper connections list`.',
  api_key_not_found: '`tokenkeeper keys list` shows every key and whether it is already revoked.',
  silence_not_found: '`tokenkeeper alerts silences` lists every silence, expired ones included.',
  webhook_not_found: 'List the webhook endpoints with `tokenkeeper webhooks list`.',
  delivery_not_found: '`tokenkeeper webhooks deliveries <endpoint id>` lists the deliveries of an endpoint.',
  invalid_id: 'Ids look like con_…, int_… or key_…; copy one from a `list` command.',
  connection_needs_reauth: 'The user has to connect the account again (start a new connect session); refreshing cannot fix this.',
  connection_revoked: 'The connection was revoked; the user has to connect the account again.',
  connection_pending: 'The connect flow of this connection never completed; start a new connect session.',
  no_refresh_token: 'The provider gave no refresh token: the user has to connect again (for offline access, check the integration’s scopes, e.g. offline_access).',
  refresh_in_progress: 'Another process is refreshing this connection right now; try again in a few seconds.',
  refresh_cooldown: 'A recent refresh failed; Tokenkeeper waits before trying again. Retry later, or run `tokenkeeper doctor` to check the provider.',
  provider_unavailable: 'The provider could not be reached or answered with a temporary error. Try again shortly; `tokenkeeper doctor` checks every integration’s endpoints.',
  circuit_open: 'Too many recent failures at this provider; calls are paused briefly. Try again in a minute; `tokenkeeper doctor` checks the provider.',
  invalid_provider_response: 'The provider answered with something that is not OAuth; check the integration’s endpoints with `tokenkeeper doctor`.',
  provider_error: 'The provider rejected the request; check the integration’s client id and secret.',
  decryption_failed:
    'TOKENKEEPER_ENCRYPTION_KEYS must still list every key that sealed stored data (new key first, old keys after it) until `tokenkeeper rotate-keys` has run. See docs/configuration.md.',
  storage_unavailable: 'Check TOKENKEEPER_DATA_DIR (or DATABASE_URL) and run `tokenkeeper doctor`.',
  config_invalid: 'Fix the configuration (docs/configuration.md), then run `tokenkeeper doctor`.',
};

/**
 * Turns anything a command threw into a message for a person and an exit code:
 * usage mistakes → `error: <message>` and where the usage is, exit 2; configuration problems →
 * every problem, one per line, exit 78 (EX_CONFIG); Tokenkeeper errors → `error [code]: message`
 * and what to do next, exit 1. Never prints a stack or a secret: messages are written not to
 * contain any.
 */
export function reportError(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    return reportUsageError(error.message, error.commandName, io);
  }
  if (error instanceof ConfigError) {
    const count = error.problems.length === 1 ? 'a problem' : `${error.problems.length} problems`;
    io.stderr(
      `Tokenkeeper's configuration has ${count}:\n\n` +
        error.problems.map((problem) => `  ✖ ${problem.variable}: ${problem.message}\n`).join('') +
        '\nSet these in the environment or in .env (docs/configuration.md lists every variable), then try again.\n',
    );
    return EXIT_CONFIG;
  }
  if (isTokenkeeperError(error)) {
    io.stderr(formatTokenkeeperError(error));
    return error.code === 'config_invalid' ? EXIT_CONFIG : EXIT_FAILURE;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(
    `error: ${message}\n` +
      'This was not expected. `tokenkeeper doctor` checks configuration, storage, keys and integrations; ' +
      'if it finds nothing, please report this message together with the command you ran.\n',
  );
  return EXIT_FAILURE;
}

/**
 * A wrong command line: what is wrong on one line, then where the usage is. Exit 2. `command` is
 * what precedes `--help` in the pointer (empty for the top level: `tokenkeeper --help`).
 */
export function reportUsageError(message: string, command: string, io: CliIo): number {
  io.stderr(`error: ${message}\nRun "tokenkeeper ${command ? `${command} ` : ''}--help" for usage.\n`);
  return EXIT_USAGE;
}

export function formatTokenkeeperError(error: TokenkeeperError): string {
  let text = `error [${error.code}]: ${error.message}\n`;
  const next = NEXT_STEPS[error.code];
  if (next) text += `${next}\n`;
  return text;
}
