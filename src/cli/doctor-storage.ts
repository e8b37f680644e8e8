import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/index.ts';
import { databaseOptionsOf, latestMigration, openDatabase, pendingMigrations, type DatabaseHandle } from '../store/index.ts';
import type { CheckSection } from './doctor-report.ts';

export interface StorageOutcome {
  database: DatabaseHandle | null;
  /** False when the schema is not there yet (a fresh file): table checks are skipped. */
  schemaReady: boolean;
}

/**
 * Storage: opens the database, pings it, and lists pending migrations. A missing database file
 * is not created here (the doctor changes nothing); it is reported as "not created yet".
 */
export async function checkStorage(config: Readonly<Config>, section: CheckSection): Promise<StorageOutcome> {
  if (config.databaseUrl !== null) return checkPostgres(config, section);
  if (!existsSync(config.databasePath)) {
    const dir = existsSync(config.dataDir) ? config.dataDir : dirname(config.dataDir);
    if (existsSync(dir) && !isWritable(dir)) {
      section.lines.push({
        status: 'fail',
        text: `no database yet, and ${dir} is not writable, so none can be created`,
        hint: 'make TOKENKEEPER_DATA_DIR point at a directory this user can write',
      });
    } else {
      section.lines.push({
        status: 'warn',
        text: `no database yet at ${config.databasePath}`,
        hint: '`tokenkeeper serve` or `tokenkeeper migrate` creates it',
      });
    }
    return { database: null, schemaReady: false };
  }
  if (!isWritable(config.databasePath)) {
    section.lines.push({
      status: 'fail',
      text: `the database ${config.databasePath} is not writable by this user`,
      hint: 'fix its owner or mode (and the data directory’s), or point TOKENKEEPER_DATA_DIR elsewhere',
    });
  }
  let database: DatabaseHandle;
  try {
    database = await openDatabase(databaseOptionsOf(config));
    await database.ping();
  } catch (error) {
    section.lines.push({
      status: 'fail',
      text: `cannot open the database ${config.databasePath}: ${(error as Error).message}`,
      hint: 'check the file and TOKENKEEPER_DATA_DIR; restore it from a backup if it is damaged',
    });
    return { database: null, schemaReady: false };
  }
  section.lines.push({ status: 'ok', text: `SQLite database ${database.location} opens and answers` });
  return checkSchema(database, section);
}

/** PostgreSQL (`DATABASE_URL`): connect, ping, and the same schema check. */
async function checkPostgres(config: Readonly<Config>, section: CheckSection): Promise<StorageOutcome> {
  let database: DatabaseHandle;
  try {
    database = await openDatabase(databaseOptionsOf(config));
  } catch (error) {
    section.lines.push({
      status: 'fail',
      text: (error as Error).message,
      hint: 'check DATABASE_URL (host, port, database, user, password) and that PostgreSQL is running and reachable from here',
    });
    return { database: null, schemaReady: false };
  }
  section.lines.push({ status: 'ok', text: `PostgreSQL ${database.location} answers` });
  return checkSchema(database, section);
}

async function checkSchema(database: DatabaseHandle, section: CheckSection): Promise<StorageOutcome> {
  const pending = await pendingMigrations(database.db);
  if (pending.length === 0) {
    section.lines.push({ status: 'ok', text: `schema up to date (${latestMigration})` });
    return { database, schemaReady: true };
  }
  section.lines.push({
    status: 'warn',
    text: `${pending.length} pending migration${pending.length === 1 ? '' : 's'}: ${pending.join(', ')}`,
    hint: '`tokenkeeper serve` applies them at start-up, or run `tokenkeeper migrate`',
  });
  // Only a brand-new file lacks the tables the later checks read.
  return { database, schemaReady: pending[0] !== '0001-initial' };
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
