import { loadConfig, type Config } from '../config/index.ts';
import { createLogger, type Logger, type LogLevel } from '../logger.ts';
import { createTokenkeeper, type Tokenkeeper, type TokenkeeperOptions } from '../service.ts';
import type { CliIo } from './io.ts';

/** The configuration as the process would see it: `io.env` and `.env` in `io.cwd`. */
export function loadCliConfig(io: CliIo): Readonly<Config> {
  return loadConfig({ env: io.env, cwd: io.cwd });
}

/**
 * A logger for CLI commands, on stderr so stdout stays the command's output (pipeable, `--json`).
 * Management commands show warnings and up unless debug logging is configured: "database
 * migrated" style info lines would drown a one-line answer.
 */
export function createCliLogger(config: Readonly<Config>, io: CliIo, minimum: LogLevel = 'warn'): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const level = config.logLevel === 'debug' ? 'debug' : order[Math.max(order.indexOf(config.logLevel), order.indexOf(minimum))]!;
  return createLogger({ level, format: config.logFormat, sink: { write: (line) => io.stderr(line) } });
}

/**
 * Runs `work` with a Tokenkeeper instance built like the server's (same storage, keys and
 * services; migrations applied), and closes it afterwards whatever happens. The warning about a
 * generated development key is left to `serve`, which gives it at every start: a management
 * command says one line only when it created the key file.
 */
export async function withTokenkeeper<T>(
  io: CliIo,
  work: (tk: Tokenkeeper) => Promise<T>,
  options: Omit<TokenkeeperOptions, 'config' | 'logger'> = {},
): Promise<T> {
  const config = loadCliConfig(io);
  const tk = await createTokenkeeper({ developmentKeyWarning: 'when-created', ...options, config, logger: createCliLogger(config, io) });
  try {
    return await work(tk);
  } finally {
    await tk.close();
  }
}
