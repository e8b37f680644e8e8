import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closestMatch } from '../closest-match.ts';
import type { CliIo } from './io.ts';

/** Runs one command with the arguments after its name; returns the exit code, may throw (see main.ts). */
export type CommandRun = (argv: string[], io: CliIo) => Promise<number>;

/**
 * One `tokenkeeper <name>` command. Its module is loaded only when the command runs, so
 * `--help` and quick commands do not pay for loading the HTTP server and the sandbox.
 */
export interface Command {
  name: string;
  /** One line for the overview; `--help` of the command has the rest. */
  summary: string;
  load(): Promise<CommandRun>;
}

/**
 * A mistake in how the command was invoked (unknown flag, missing argument). report-error.ts
 * prints `error: <message>` and where the usage is (`tokenkeeper <command> --help`), and exits 2:
 * one line says what is wrong, where a page of usage text would bury it.
 */
export class UsageError extends Error {
  /** The command (or command and subcommand) being parsed, e.g. `keys create`. */
  readonly commandName: string;

  constructor(commandName: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.commandName = commandName;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
type WithHelp<O extends Options> = O & typeof HELP_OPTION;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: true; options: WithHelp<O> }>>;

/**
 * `util.parseArgs` in strict mode with `-h/--help` always known, turning its errors into a
 * UsageError for this command. Positionals are counted here so the message can say what was
 * expected.
 */
export function parseCommandArgs<const O extends Options>(
  commandName: string,
  argv: string[],
  options: O,
  positionals: { min: number; max: number; names?: string } = { min: 0, max: 0 },
): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...options, ...HELP_OPTION } as WithHelp<O> });
  } catch (error) {
    const message = cleanParseMessage((error as Error).message);
    const flag = /^unknown option '(--[^']+)'/.exec(message)?.[1];
    const suggestion = flag ? closestMatch(flag, Object.keys(options).map((name) => `--${name}`)) : null;
    throw new UsageError(commandName, suggestion ? `${message}; did you mean ${suggestion}?` : message);
  }
  if (!(parsed.values as { help?: boolean }).help) {
    if (parsed.positionals.length < positionals.min) {
      throw new UsageError(commandName, `missing ${positionals.names ?? 'argument'}`);
    }
    if (parsed.positionals.length > positionals.max) {
      const extra = parsed.positionals.slice(positionals.max).map((value: string) => JSON.stringify(value)).join(' ');
      throw new UsageError(commandName, `unexpected argument${parsed.positionals.length - positionals.max > 1 ? 's' : ''} ${extra}`);
    }
  }
  return parsed;
}

/**
 * parseArgs messages are written for programmers ("Unknown option '--nmae'. To specify a
 * positional argument starting with a '-', place it at the end of the command after '--', as in
 * '-- \"--nmae\"'"); keep the first sentence, which is the useful part, lower-cased to follow
 * `error: ` like every other usage message.
 */
function cleanParseMessage(message: string): string {
  const first = message.split(/\.\s+(?=To specify)/)[0]!.replace(/\.$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/** Parses a whole number flag within bounds, or throws a UsageError naming the flag. */
export function integerFlag(commandName: string, flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(commandName, `--${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}
