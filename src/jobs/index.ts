export { runRefreshSweep, type JobReport, type RefreshSweepDeps } from './refresh-sweep.ts';
export { runCleanup } from './cleanup.ts';
export { JobRunner, type JobDefinition } from './job-runner.ts';
export { InProcessScheduler } from './in-process-scheduler.ts';
