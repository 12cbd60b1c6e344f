import type { ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURES } from './definitions.js';

/** Named option profiles: a short database step, a page listing, a long transfer. */

const DEFAULT_TRANSFER_ATTEMPTS = 8;

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
  databaseStep: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE_FAILURES },
  },
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
} satisfies Record<string, ActivityOptions | ((attempts?: number) => ActivityOptions)>;
