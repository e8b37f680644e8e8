/**
 * The command line: `tokenkeeper serve | sandbox | migrate | doctor | keys | integrations |
 * connections | refresh | deploy | rotate-keys`. Commands call the same domain modules as http/.
 * Each takes `(argv, io)` so tests and embedders run them in-process.
 */
export { runCli, main, commands, overview } from './main.ts';
export type { Command, CommandRun } from './command.ts';
export { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './io.ts';
export { rotateSealedValues, SEALED_COLUMNS, type RotationReport, type RotateOptions } from './rotate-sealed-values.ts';
