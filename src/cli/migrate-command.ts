import { databaseOptionsOf, latestMigration, migrateToLatest, openDatabase, pendingMigrations } from '../store/index.ts';
import { parseCommandArgs } from './command.ts';
import { EXIT_OK, type CliIo } from './io.ts';
import { loadCliConfig } from './open-tokenkeeper.ts';

const USAGE = `Usage: tokenkeeper migrate [--status]

Applies pending database migrations and says which ones ran, or that the database is up to
date. \`tokenkeeper serve\` applies them at start-up too; run this before deploying a new version
to several processes, or to check a database.

Options:
  --status     only list pending migrations; change nothing
  -h, --help   show this help
`;

export async function runMigrateCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('migrate', argv, { status: { type: 'boolean' } });
  if (values.help) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  const config = loadCliConfig(io);
  const database = await openDatabase(databaseOptionsOf(config));
  try {
    if (values.status) {
      const pending = await pendingMigrations(database.db);
      io.stdout(
        pending.length === 0
          ? `The database at ${database.location} is up to date (latest migration: ${latestMigration}).\n`
          : `${pending.length} pending migration${pending.length === 1 ? '' : 's'} for ${database.location}:\n` +
              pending.map((name) => `  • ${name}\n`).join('') +
              'Apply them with `tokenkeeper migrate`.\n',
      );
      return EXIT_OK;
    }
    const report = await migrateToLatest(database.db);
    if (report.applied.length === 0) {
      io.stdout(`The database at ${database.location} is up to date (latest migration: ${report.current ?? latestMigration}).\n`);
    } else {
      io.stdout(
        `Applied ${report.applied.length} migration${report.applied.length === 1 ? '' : 's'} to ${database.location}:\n` +
          report.applied.map((name) => `  ✔ ${name}\n`).join('') +
          `The database is now at ${report.current}.\n`,
      );
    }
    return EXIT_OK;
  } finally {
    await database.close();
  }
}
