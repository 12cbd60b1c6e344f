import type { WorkerOptions } from '@temporalio/worker';

/**
 * Worker tuning: the knobs that are not per-deployment. Address, namespace and
 * task queue come from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_TASK_QUEUE) through src/config.ts, with their defaults there.
 */
/** Sized for a 2-core machine: transfers are I/O bound, so more activities than cores. */
export const workerTuning = {
  maxConcurrentActivityTaskExecutions: 16,
  maxConcurrentWorkflowTaskExecutions: 8,
  maxCachedWorkflows: 200,
  // In-flight transfers get this long to finish (and heartbeat) on SIGTERM before they are cancelled.
  shutdownGraceTime: '30 seconds',
  // An activity that ignores cancellation must not keep a stopping worker alive forever.
  shutdownForceTime: '60 seconds',
  // Beats reach Temporal this often (not only every 0.8 × the heartbeat timeout), so a transfer's
  // short heartbeat timeout (workflows/activity-options.ts) has room for three lost beats.
  maxHeartbeatThrottleInterval: '2 seconds',
} satisfies Partial<WorkerOptions>;

/**
 * Transfers of small files (see TransferTuning in workflows/definitions.ts for
 * the batch sizes and batches in flight per sync): files one batch activity
 * moves at once, and files in flight on one worker across all its syncs.
 * BATCH_TRANSFER_CONCURRENCY and WORKER_TRANSFER_CONCURRENCY override them.
 * Every source request still waits for its tenant's throttle in the HTTP layer.
 */
export const transferConcurrency = {
  filesInFlightPerBatch: 8,
  filesInFlightPerWorker: 32,
  /**
   * A body whose length the source does not declare is held whole until it is
   * stored if it fits in one upload part (8 MiB), else a part at a time (a
   * declared length streams straight through). Each transfer counts its listed
   * size, up to a part, against this budget per worker, so medium files do not
   * multiply the worker's memory by the files in flight.
   */
  bodyMiBInMemoryPerWorker: 32,
} as const;
