import { pendingMigrations, type ChangeFeed, type DatabaseHandle, type FeedStatus } from '../store/index.ts';
import { checkStorage, type StorageState } from './storage-state.ts';

export interface Readiness {
  ready: boolean;
  storage: StorageState;
  migrations: {
    /** `unknown` when the database could not be asked. */
    status: 'applied' | 'pending' | 'unknown';
    /** Migrations this version knows and the database has not applied, oldest first. */
    pending: string[];
  };
  /**
   * The cache invalidation channel: `live`, `down` (reconnecting by itself; caches read the
   * database meanwhile, so the instance stays ready), or `not_used` (SQLite).
   */
  notifications: { status: FeedStatus };
}

/**
 * Readiness, as opposed to liveness: this instance should take traffic only if its database
 * answers and holds every migration this version of the code expects. A database behind the
 * code (restored from a backup, rolled back, or never migrated because start-up migrations were
 * skipped) would fail requests on missing columns; the load balancer should keep the instance out
 * until `tokenkeeper migrate` has run. A database *ahead* of the code (a newer instance migrated
 * it during a rolling upgrade) is ready: migrations are additive, and the old instances keep
 * serving until they are replaced.
 *
 * A lost invalidation channel is reported but does not make an instance unready: its caches read
 * the database until the channel is back, which costs speed, not correctness.
 */
export async function checkReadiness(database: Pick<DatabaseHandle, 'db' | 'dialect' | 'ping'>, changes?: Pick<ChangeFeed, 'status'>): Promise<Readiness> {
  const notifications = { status: changes?.status() ?? 'not_used' };
  const storage = await checkStorage(database);
  if (storage.status !== 'ok') return { ready: false, storage, migrations: { status: 'unknown', pending: [] }, notifications };
  let pending: string[];
  try {
    pending = await pendingMigrations(database.db);
  } catch {
    // The database went away between the two queries: the same answer as if it had never answered.
    return { ready: false, storage: { ...storage, status: 'unreachable' }, migrations: { status: 'unknown', pending: [] }, notifications };
  }
  return { ready: pending.length === 0, storage, migrations: { status: pending.length === 0 ? 'applied' : 'pending', pending }, notifications };
}
