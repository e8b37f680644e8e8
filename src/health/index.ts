/** Health (liveness) and readiness of an instance, for probes and load balancers. */
export { checkStorage, databaseNameOf, type DatabaseName, type StorageState } from './storage-state.ts';
export { checkReadiness, type Readiness } from './readiness.ts';
