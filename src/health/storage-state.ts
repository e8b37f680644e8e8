import type { DatabaseHandle } from '../store/index.ts';

/** The database in use, by its product name (what an operator reads in a probe's answer). */
export type DatabaseName = 'sqlite' | 'postgresql';

export interface StorageState {
  /** `ok` when a trivial query answers; `unreachable` when it fails (closed pool, server down, file gone). */
  status: 'ok' | 'unreachable';
  dialect: DatabaseName;
}

export function databaseNameOf(database: Pick<DatabaseHandle, 'dialect'>): DatabaseName {
  return database.dialect === 'postgres' ? 'postgresql' : 'sqlite';
}

/** Liveness of the storage: one `select 1`. Never throws: an answer is what a probe needs. */
export async function checkStorage(database: Pick<DatabaseHandle, 'dialect' | 'ping'>): Promise<StorageState> {
  try {
    await database.ping();
    return { status: 'ok', dialect: databaseNameOf(database) };
  } catch {
    return { status: 'unreachable', dialect: databaseNameOf(database) };
  }
}
