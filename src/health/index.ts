/** Health (liveness) and readiness of an instance, for probes and load balancers. */
export { checkStorage, databaseNameOf, type DatabaseName, type StorageState } from './storage-state.ts';
export { checkReadiness, type Readiness } from './readiness.ts';
export {
  DEFAULT_STUCK_THRESHOLDS,
  STUCK_POLICY,
  STUCK_STATES,
  StuckConnections,
  stuckConnectionToJson,
  stuckThresholdsToJson,
  type StuckConnection,
  type StuckFilter,
  type StuckState,
  type StuckThresholds,
} from './stuck-connections.ts';
export { CONNECTION_STUCK, STUCK_CHECK_INTERVAL_MS, STUCK_REPEAT_FLOOR_MS, runStuckCheck, stuckAlertOf, type StuckCheckReport } from './stuck-check.ts';
