import { UsageError } from './command.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { closestMatch } from './suggest.ts';

export type SubcommandHandler = (argv: string[], io: CliIo) => Promise<number>;

/**
 * `tokenkeeper <command> <subcommand> …`: `--help` (or nothing) prints the command's usage; an
 * unknown subcommand is a usage error that names the closest one.
 */
export async function runSubcommand(
  commandName: string,
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
  if (name === undefined) throw new UsageError(commandName, `which one? (${Object.keys(handlers).join(', ')})`, usage);
  const handler = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
  if (!handler) {
    const suggestion = closestMatch(name, Object.keys(handlers));
    throw new UsageError(
      commandName,
      `unknown subcommand ${JSON.stringify(name)}${suggestion ? `; did you mean "${commandName} ${suggestion}"?` : ''}`,
      usage,
    );
  }
  return handler(rest, io);
}
