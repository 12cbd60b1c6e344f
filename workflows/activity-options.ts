import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURES } from './definitions.js';

/** Named option profiles: a short database step (through the task queue, or local), a page listing, a long transfer. */

const DEFAULT_TRANSFER_ATTEMPTS = 8;

const DATABASE_STEP_TIMEOUT = '30 seconds';
const DATABASE_STEP_RETRY = { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE_FAILURES };

/**
 * Transfers beat this often whatever they are doing (the worker sends beats at
 * most every maxHeartbeatThrottleInterval, temporal.config.ts, set to the same).
 */
export const TRANSFER_HEARTBEAT_EVERY_MS = 2_000;

/**
 * Four missed beats: a dead worker's transfer is given to another worker
 * (after the retry policy's first 2 s) within about 10 s of the death.
 */
const TRANSFER_HEARTBEAT_TIMEOUT_MS = 4 * TRANSFER_HEARTBEAT_EVERY_MS;

export const profiles = {
  databaseStep: { startToCloseTimeout: DATABASE_STEP_TIMEOUT, retry: DATABASE_STEP_RETRY },
  /**
   * The same step as a local activity: run by the worker inside the workflow task, recorded as
   * one marker, no task for the server to hand out (so no task priority either). Its retries
   * wait in the worker (every wait of the policy is under the default localRetryThreshold of a
   * minute); the worker keeps the workflow task alive meanwhile. For short steps only: a local
   * activity cannot heartbeat.
   */
  localDatabaseStep: { startToCloseTimeout: DATABASE_STEP_TIMEOUT, retry: DATABASE_STEP_RETRY },
  listing: {
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '45 seconds',
    retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE_FAILURES },
  },
  /** About four minutes of retries by default; after them the file is recorded as failed. */
  transfer: (attempts = DEFAULT_TRANSFER_ATTEMPTS): ActivityOptions => ({
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: TRANSFER_HEARTBEAT_TIMEOUT_MS,
    retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes', maximumAttempts: attempts, nonRetryableErrorTypes: NON_RETRYABLE_FAILURES },
  }),
} satisfies Record<string, ActivityOptions | LocalActivityOptions | ((attempts?: number) => ActivityOptions)>;
