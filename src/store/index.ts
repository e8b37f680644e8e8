export { openDatabase, databaseOptionsOf, isPostgres, type Database, type DatabaseHandle, type OpenDatabaseOptions } from './database.ts';
export { redactDatabaseUrl, type PostgresPoolOptions } from './postgres-dialect.ts';
export { migrateToLatest, pendingMigrations, latestMigration, type MigrateReport } from './migrate.ts';
export type { ConnectionStatus } from './schema.ts';
export * from './integrations-table.ts';
export * from './connections-table.ts';
export * from './connect-sessions-table.ts';
export * from './events-table.ts';
export * from './api-keys-table.ts';
export * from './job-state-table.ts';
export * from './outbound-limits-table.ts';
export * from './alerts-table.ts';
export * from './alert-notifications-table.ts';
export * from './silences-table.ts';
export * from './alert-stats.ts';
export * from './app-events-table.ts';
export * from './app-webhooks-table.ts';
export * from './webhook-deliveries-table.ts';
export * from './action-executions-table.ts';
export { MAX_TIME_MS, MIN_TIME_MS, isStorableTime, checkStorableTimes } from './time-bounds.ts';
export { isUniqueViolation } from './unique-violation.ts';
export { isStorageUnavailable } from './storage-unavailable.ts';
export { isSqliteBusy } from './sqlite-dialect.ts';
export {
  localChangeFeed,
  openChangeFeed,
  openPostgresChangeFeed,
  writeAndNotify,
  OUTAGE_GRACE_MS,
  type Change,
  type ChangeFeed,
  type ChangeWatch,
  type FeedSignal,
  type FeedStatus,
  type Outbox,
} from './change-feed.ts';
export { connectionReaderFor, type ConnectionReader } from './connection-reader.ts';
