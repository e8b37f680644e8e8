import { UsageError } from './command.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { closestMatch } from '../closest-match.ts';

export type SubcommandHandler = (argv: string[], io: CliIo) => Promise<number>;

/**
 * `tokenkeeper <command> <subcommand> …`: `--help` prints the command's usage; a missing
 * subcommand is a usage error that lists them, an unknown one a usage error that names the
 * closest one.
 */
export async function runSubcommand(
  commandName: string,
  /** Printed for `--help`, `-h` and `help`. */
  usage: string,
  argv: string[],
  io: CliIo,
  handlers: Record<string, SubcommandHandler>,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '-h' || name === '--help' || name === 'help') {
    io.stdout(usage);
    return EXIT_OK;
  }
  if (name === undefined) throw new UsageError(commandName, `missing subcommand (${Object.keys(handlers).join(', ')})`);
  const handler = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
  if (!handler) {
    const suggestion = closestMatch(name, Object.keys(handlers));
    throw new UsageError(
      commandName,
      `unknown subcommand ${JSON.stringify(name)}${suggestion ? `; did you mean "${commandName} ${suggestion}"?` : ''}`,
    );
  }
  return handler(rest, io);
}
