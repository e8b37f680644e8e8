export { openDatabase, type Database, type DatabaseHandle, type OpenDatabaseOptions } from './database.ts';
export { migrateToLatest, pendingMigrations, latestMigration, type MigrateReport } from './migrate.ts';
export type { ConnectionStatus } from './schema.ts';
export * from './integrations-table.ts';
export * from './connections-table.ts';
export * from './connect-sessions-table.ts';
export * from './events-table.ts';
export * from './api-keys-table.ts';
export * from './job-state-table.ts';
