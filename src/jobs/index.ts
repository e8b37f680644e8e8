export { runRefreshSweep, enqueueRefreshSweep, findSweepWork, type JobReport, type RefreshSweepDeps, type SweepWork } from './refresh-sweep.ts';
export { runCleanup } from './cleanup.ts';
export { JobRunner, type JobDefinition, type JobRunnerDeps } from './job-runner.ts';
export { InProcessScheduler } from './in-process-scheduler.ts';
export type { JobQueue, QueueDefinition, QueuedJob } from './job-queue.ts';
export { DEFAULT_CLUSTER_JOB_TUNING, JobReleased, PgBossQueue, jobsSchemaFor, type ClusterJobTuning, type PgBossQueueOptions, type StoredJob } from './pg-boss-queue.ts';
export {
  CLEANUP_QUEUE,
  REFRESH_QUEUE,
  SYSTEM_TOKEN_QUEUE,
  enqueueCleanup,
  tokenkeeperQueues,
  type RefreshJobData,
  type SystemTokenJobData,
} from './tokenkeeper-queues.ts';
