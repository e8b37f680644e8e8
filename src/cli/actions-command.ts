import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { IdempotentExecutions, isActionFailureReason, type ActionExecutionJson, type ActionFailureReason, type ActionJson, type ActionPreviewJson } from '../actions/index.ts';
import { isTokenkeeperError, type ErrorCode, type TokenkeeperError } from '../errors.ts';
import { parseCommandArgs, UsageError } from './command.ts';
import { requireConnectionId } from './connection-id.ts';
import { formatDuration, formatJson, formatTable, formatTimestamp } from './format.ts';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './io.ts';
import { withTokenkeeper } from './open-tokenkeeper.ts';
import { formatTokenkeeperError } from './report-error.ts';
import { runSubcommand } from './subcommands.ts';

const USAGE = `Usage: tokenkeeper actions <subcommand>

Actions are typed operations on a provider's API on a user's behalf — send an e-mail, post a
message, open an issue — run through a connection without the token ever leaving Tokenkeeper
(docs/actions.md). The same operations as /v1/actions and /v1/connections/:id/actions/…;
--json prints the API's answers.

Subcommands:
  list [--integration <key>] [--json]
                                  the actions: name, providers, enabled, source, description
  preview <connection-id> <action> (--input '<json>' | --input-file <path|->) [--json]
                                  the exact request execute would send, token redacted; sends nothing
  execute <connection-id> <action> (--input '<json>' | --input-file <path|->)
          [--idempotency-key <key>] [--json]
                                  send it; prints the outcome, provider status and result

Try them on the sandbox provider's demo API:
  tokenkeeper actions preview con_… sandbox.notes.create --input '{"title":"Hi","text":"from the CLI"}'
  tokenkeeper actions execute con_… sandbox.notes.create --input '{"title":"Hi","text":"from the CLI"}'

Run \`tokenkeeper actions <subcommand> --help\` for details.
`;

const LIST_USAGE = `Usage: tokenkeeper actions list [--integration <key>] [--json]

Lists the actions this installation offers, built-in ones first, then those loaded from
TOKENKEEPER_ACTIONS_DIR: name, the providers whose integrations offer it, the configured
integrations that do (an integration with actions_enabled false is marked "off"), whether it is
enabled (TOKENKEEPER_ACTIONS_DISABLED; with --integration, also that integration's
actions_enabled), where it comes from, and what it does. --json includes each action's input schema.

Options:
  --integration <key>   only the actions this integration offers, enabled as it sees them
  --json                print {data} as JSON (the API's shape, input_schema included)
  -h, --help            show this help

Example:
  tokenkeeper actions list --integration sandbox
`;

const INPUT_OPTIONS = `  --input '<json>'      the action's input as JSON (an object; quote it for the shell)
  --input-file <path>   read the input from a file, or from standard input with -`;

const PREVIEW_USAGE = `Usage: tokenkeeper actions preview <connection-id> <action> (--input '<json>' | --input-file <path|->) [--json]

Validates the input against the action's schema and prints the exact request \`execute\` would
send through the connection (con_…): method, URL, headers with the token redacted, and the
body. Nothing is sent and the token is not touched. An invalid input lists every problem.

Options:
${INPUT_OPTIONS}
  --json                print the API's answer (action, method, url, headers, body, …)
  -h, --help            show this help

Examples:
  tokenkeeper actions preview con_… sandbox.notes.create --input '{"title":"Hi","text":"from the CLI"}'
  echo '{"title":"Hi","text":"from a pipe"}' | tokenkeeper actions preview con_… sandbox.notes.create --input-file -
`;

const EXECUTE_USAGE = `Usage: tokenkeeper actions execute <connection-id> <action> (--input '<json>' | --input-file <path|->)
                                  [--idempotency-key <key>] [--json]

Runs the action through the connection (con_…): validates the input, sends the request with
the connection's token (one refresh and retry after a 401; the integration's rate limit and
circuit breaker apply), and prints the outcome, the provider's status, the result and how long
it took. This really acts at the provider: preview first when unsure.

A failure prints \`error [<code>]: <message>\` and its outcome (docs/actions.md, "Outcomes") on
stderr, and exits 1. With --json, the API's error body is printed on stdout as well.

Options:
${INPUT_OPTIONS}
  --idempotency-key <key>
                        at most once per key (1-255 visible ASCII characters, e.g. a UUID): a
                        retry with the same key and input gets the stored outcome for 24 hours
                        and sends nothing again
  --json                print the API's answer (outcome, provider_status, result, …)
  -h, --help            show this help

Example:
  tokenkeeper actions execute con_… sandbox.notes.create --input '{"title":"Hi","text":"from the CLI"}'
`;

export async function runActionsCommand(argv: string[], io: CliIo): Promise<number> {
  return runSubcommand('actions', USAGE, argv, io, { list, preview, execute });
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('actions list', argv, { integration: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) return help(io, LIST_USAGE);
  return withTokenkeeper(io, async (tk) => {
    const actions = await tk.actions.list(values.integration);
    if (values.json) {
      io.stdout(formatJson({ data: actions }));
      return EXIT_OK;
    }
    if (actions.length === 0) {
      io.stdout(values.integration === undefined ? 'No actions.\n' : `The integration ${values.integration} offers no actions.\n`);
      return EXIT_OK;
    }
    io.stdout(
      formatTable(
        ['name', 'providers', 'integrations', 'enabled', 'source', 'description'],
        actions.map((action) => [action.name, providersOf(action), integrationsOf(action), action.enabled ? 'yes' : 'no', action.source, trim(action.description, 60)]),
      ),
    );
    return EXIT_OK;
  });
}

async function preview(argv: string[], io: CliIo): Promise<number> {
  const command = 'actions preview';
  const { values, positionals } = parseCommandArgs(command, argv, { ...INPUT_FLAGS, json: { type: 'boolean' } }, ACTION_POSITIONALS);
  if (values.help) return help(io, PREVIEW_USAGE);
  const connectionId = requireConnectionId(positionals[0]!);
  const name = positionals[1]!;
  const input = await readInput(command, values, io);
  return withTokenkeeper(io, async (tk) => {
    let answer: ActionPreviewJson;
    try {
      answer = await tk.actions.preview(connectionId, name, input);
    } catch (error) {
      return reportActionError(error, io, values.json === true);
    }
    if (values.json) io.stdout(formatJson(answer));
    else {
      io.stdout(requestText(answer));
      io.stderr(`Nothing was sent. \`tokenkeeper actions execute ${connectionId} ${answer.action}\` with the same input sends it.\n`);
    }
    return EXIT_OK;
  });
}

async function execute(argv: string[], io: CliIo): Promise<number> {
  const command = 'actions execute';
  const { values, positionals } = parseCommandArgs(
    command,
    argv,
    { ...INPUT_FLAGS, 'idempotency-key': { type: 'string' }, json: { type: 'boolean' } },
    ACTION_POSITIONALS,
  );
  if (values.help) return help(io, EXECUTE_USAGE);
  const connectionId = requireConnectionId(positionals[0]!);
  const name = positionals[1]!;
  const idempotencyKey = values['idempotency-key'];
  if (idempotencyKey !== undefined) {
    // The service's own rule, asked here so the mistake reads as a flag's, before anything opens.
    try {
      IdempotentExecutions.checkKey(idempotencyKey);
    } catch {
      throw new UsageError(command, '--idempotency-key must be 1 to 255 visible ASCII characters (a UUID works well)');
    }
  }
  const input = await readInput(command, values, io);
  return withTokenkeeper(io, async (tk) => {
    let answer: ActionExecutionJson;
    try {
      answer = await tk.actions.execute(connectionId, name, input, { idempotencyKey, signal: io.signal });
    } catch (error) {
      return reportActionError(error, io, values.json === true);
    }
    io.stdout(values.json ? formatJson(answer) : executionText(answer));
    return EXIT_OK;
  });
}

const INPUT_FLAGS = { input: { type: 'string' }, 'input-file': { type: 'string' } } as const;
const ACTION_POSITIONALS = { min: 2, max: 2, names: '<connection-id> <action> (con_… from `tokenkeeper connections list`, a name from `tokenkeeper actions list`)' };

/**
 * The action's input: `--input` (JSON on the command line), or `--input-file` (a file, or `-` for
 * standard input). Invalid JSON is the command line's mistake, so a usage error (exit 2) before
 * anything opens; whether the JSON fits the action is the service's to say (exit 1, every problem).
 */
async function readInput(command: string, values: { input?: string; 'input-file'?: string }, io: CliIo): Promise<unknown> {
  const file = values['input-file'];
  if (values.input !== undefined && file !== undefined) throw new UsageError(command, 'give --input or --input-file, not both');
  let text: string;
  let source: string;
  if (values.input !== undefined) {
    text = values.input;
    source = '--input';
  } else if (file === '-') {
    if (!io.readStdin) throw new UsageError(command, '--input-file -: standard input is not available here');
    text = await io.readStdin({ visible: 'Type or paste the input JSON, then press Ctrl-D:' });
    source = '--input-file - (standard input)';
  } else if (file !== undefined) {
    try {
      text = await readFile(resolve(io.cwd, file), 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
      throw new UsageError(command, `--input-file ${JSON.stringify(file)} cannot be read (${reason})`);
    }
    source = `--input-file ${JSON.stringify(file)}`;
  } else {
    throw new UsageError(command, "missing --input '<json>' or --input-file <path> (the action's input)");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8's message quotes the text it choked on, line breaks and all: one line for the terminal.
    const reason = (error as Error).message.replace(/\s+/g, ' ').trim();
    throw new UsageError(command, `${source} is not valid JSON (${reason})`);
  }
}

/** The request as an HTTP message reads: method and URL, headers, a blank line, the body pretty. */
function requestText(answer: ActionPreviewJson): string {
  let text = `${answer.method} ${answer.url}\n`;
  for (const [name, value] of Object.entries(answer.headers)) text += `${name}: ${value}\n`;
  if (answer.body !== null && answer.body !== undefined) text += `\n${typeof answer.body === 'string' ? `${answer.body.replace(/\n$/, '')}\n` : formatJson(answer.body)}`;
  return text;
}

function executionText(answer: ActionExecutionJson): string {
  const rows: [string, string][] = [
    ['outcome', answer.outcome],
    ['provider status', String(answer.provider_status)],
    ['duration', formatDuration(answer.duration_ms)],
    ['executed at', formatTimestamp(Date.parse(answer.executed_at))],
  ];
  if (answer.replayed) rows.push(['replayed', 'yes: the outcome stored for this --idempotency-key; nothing was sent again']);
  const width = Math.max(...rows.map(([label]) => label.length));
  return (
    `Executed ${answer.action} through ${answer.connection_id} (integration ${answer.integration}).\n` +
    rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}\n`).join('') +
    `Result:\n${formatJson(answer.result ?? null)}`
  );
}

/** What each failure outcome means for the person who ran the command (docs/actions.md, "Outcomes"). */
const OUTCOME_NOTES: Record<ActionFailureReason, string> = {
  action_disabled: 'nothing was sent',
  validation_error: 'nothing was sent',
  connection_needs_reauth: 'nothing was sent',
  token_unavailable: 'nothing was sent',
  provider_rejected: 'the provider refused the request',
  provider_error: 'the provider failed or could not be reached',
  rate_limited: 'the provider or the integration’s outbound limit says to wait',
  timeout: 'no answer in time: the provider may or may not have acted',
  circuit_open: 'nothing was sent',
};

/** What to do next for the action errors; other codes get report-error.ts's advice. */
const ACTION_NEXT_STEPS: Partial<Record<ErrorCode, (error: TokenkeeperError) => string>> = {
  invalid_request: () => 'Fix the input; `tokenkeeper actions list --json` shows each action’s input_schema, and `tokenkeeper actions preview` checks it without sending.',
  action_not_found: () => '`tokenkeeper actions list` lists every action; `tokenkeeper actions list --integration <key>` those one integration offers.',
  action_disabled: (error) =>
    error.details?.disabled_by === 'integration'
      ? 'Turn the integration’s actions on with PATCH /v1/integrations/<key> {"actions_enabled": true}.'
      : 'Remove the name from TOKENKEEPER_ACTIONS_DISABLED and restart the server to turn it on.',
  provider_rejected: () => 'Check the input against the provider’s API; `tokenkeeper actions preview` shows the exact request sent.',
  proxy_timeout: () =>
    'Check at the provider before running it again. With --idempotency-key, running it again with the same key answers this same outcome and sends nothing.',
  idempotency_key_reused: () => 'Use a new --idempotency-key for a new input; the same key with the same input answers the stored outcome.',
  idempotency_key_in_use: () => 'An execution with this key is still running; run the same command again shortly to get its outcome.',
};

/**
 * An action's failure on stderr: `error [<code>]: <message>`, its outcome and what it means, the
 * provider's status and short code when it answered, when to retry, and what to do next. Exit 1,
 * as for every Tokenkeeper error. With --json, stdout gets the API's error body too, so a script
 * can read `error.details.outcome`.
 */
function reportActionError(error: unknown, io: CliIo, json: boolean): number {
  if (!isTokenkeeperError(error)) throw error;
  if (json) io.stdout(formatJson({ error: error.toJSON() }));
  const details = error.details ?? {};
  const firstLine = `error [${error.code}]: ${error.message}\n`;
  let text = firstLine;
  if (isActionFailureReason(details.outcome)) text += `outcome: ${details.outcome} (${OUTCOME_NOTES[details.outcome]})\n`;
  if (typeof details.provider_status === 'number') {
    text += `provider status: ${details.provider_status}${typeof details.provider_error === 'string' ? ` (${details.provider_error})` : ''}\n`;
  }
  if (details.replayed === true) text += 'replayed: the outcome stored for this --idempotency-key; nothing was sent again\n';
  if (error.retryAfterMs !== undefined) text += `Retry after ${formatDuration(error.retryAfterMs)}.\n`;
  const next = ACTION_NEXT_STEPS[error.code];
  text += next ? `${next(error)}\n` : formatTokenkeeperError(error).slice(firstLine.length);
  io.stderr(text);
  return EXIT_FAILURE;
}

/** `github, github-app`, with the integrations an action is narrowed to. */
/** The configured integrations offering it: `google, google-eu (off)`, or `-` for none. */
function integrationsOf(action: { available_for: Array<{ integration: string; enabled: boolean }> }): string {
  if (action.available_for.length === 0) return '-';
  return action.available_for.map((entry) => (entry.enabled ? entry.integration : `${entry.integration} (off)`)).join(', ');
}

function providersOf(action: ActionJson): string {
  const providers = action.providers.join(', ');
  return action.integrations === null ? providers : `${providers} (only ${action.integrations.join(', ')})`;
}

function trim(text: string, length: number): string {
  return [...text].length > length ? `${[...text].slice(0, length - 1).join('')}…` : text;
}

function help(io: CliIo, usage: string): number {
  io.stdout(usage);
  return EXIT_OK;
}
