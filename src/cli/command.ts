import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closestMatch } from './suggest.ts';
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
 * A mistake in how the command was invoked (unknown flag, missing argument). main.ts prints the
 * message and the usage of the command (or subcommand) that was being parsed, and exits 2.
 */
export class UsageError extends Error {
  readonly usage: string;
  readonly commandName: string;

  constructor(commandName: string, message: string, usage: string) {
    super(message);
    this.name = 'UsageError';
    this.commandName = commandName;
    this.usage = usage;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
type WithHelp<O extends Options> = O & typeof HELP_OPTION;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: true; options: WithHelp<O> }>>;

/**
 * `util.parseArgs` in strict mode with `-h/--help` always known, turning its errors into a
 * UsageError that carries this command's usage. Positionals are counted here so the message
 * can say what was expected.
 */
export function parseCommandArgs<const O extends Options>(
  commandName: string,
  usage: string,
  argv: string[],
  options: O,
  positionals: { min: number; max: number; names?: string } = { min: 0, max: 0 },
): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...options, ...HELP_OPTION } as WithHelp<O> });
  } catch (error) {
    const message = cleanParseMessage((error as Error).message);
    const flag = /^Unknown option '(--[^']+)'/.exec(message)?.[1];
    const suggestion = flag ? closestMatch(flag, Object.keys(options).map((name) => `--${name}`)) : null;
    throw new UsageError(commandName, suggestion ? `${message}; did you mean ${suggestion}?` : message, usage);
  }
  if (!(parsed.values as { help?: boolean }).help) {
    if (parsed.positionals.length < positionals.min) {
      throw new UsageError(commandName, `missing ${positionals.names ?? 'argument'}`, usage);
    }
    if (parsed.positionals.length > positionals.max) {
      const extra = parsed.positionals.slice(positionals.max).map((value: string) => JSON.stringify(value)).join(' ');
      throw new UsageError(commandName, `unexpected argument${parsed.positionals.length - positionals.max > 1 ? 's' : ''} ${extra}`, usage);
    }
  }
  return parsed;
}

/**
 * parseArgs messages are written for programmers ("Unknown option '--nmae'. To specify a
 * positional argument starting with a '-', place it at the end of the command after '--', as in
 * '-- \"--nmae\"'"); keep the first sentence, which is the useful part.
 */
function cleanParseMessage(message: string): string {
  const first = message.split(/\.\s+(?=To specify)/)[0]!;
  return first.replace(/\.$/, '');
}

/** Parses a whole number flag within bounds, or throws a UsageError naming the flag. */
export function integerFlag(commandName: string, usage: string, flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(commandName, `--${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`, usage);
  }
  return value;
}
