import type { MetricMeter } from '@temporalio/common';

/**
 * The sync's own metrics, recorded through Temporal's metric meter so they leave
 * through the same exporter as the SDK's (and are not re-emitted on replay).
 * The exporter adds `_total` to counters; the SDK's own metrics are `temporal_*`.
 * Deterministic code only: the workflow interceptor imports this file.
 */
export const SYNC_METRIC = {
  syncs: 'connector_syncs',
  syncDuration: 'connector_sync_duration_seconds',
  files: 'connector_files',
  bytes: 'connector_bytes',
  failures: 'connector_failures',
  throttleWaits: 'connector_throttle_waits',
  throttleWaitSeconds: 'connector_throttle_wait_seconds',
} as const;

/** Sync durations span seconds (a no-change resync) to hours (a first sync of a large tenant). */
export const SYNC_DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800];

export type SyncOutcomeLabel = 'synced' | 'skipped' | 'rejected' | 'failed' | 'cancelled';
export type FileResult = 'new' | 'updated' | 'unchanged' | 'renamed' | 'deleted' | 'skipped' | 'gone' | 'failed';

/** One run's end: counted once per sync (not per continue-as-new run), with its duration. */
export function recordSyncEnd(meter: MetricMeter, outcome: SyncOutcomeLabel, connectorType: string, seconds: number): void {
  meter.createCounter(SYNC_METRIC.syncs, '1', 'Syncs ended, by outcome').add(1, { outcome, connector_type: connectorType });
  meter
    .createHistogram(SYNC_METRIC.syncDuration, 'float', 's', 'Sync duration from the first run start to its end')
    .record(Math.max(0, seconds), { outcome, connector_type: connectorType });
}

export function recordFiles(meter: MetricMeter, result: FileResult, count: number): void {
  if (count > 0) meter.createCounter(SYNC_METRIC.files, '1', 'Files handled, by result').add(count, { result });
}

export function recordBytes(meter: MetricMeter, bytes: number): void {
  if (bytes > 0) meter.createCounter(SYNC_METRIC.bytes, 'By', 'Bytes stored into the bucket').add(bytes);
}

/** `scope` is `item` (one file failed for good, the sync went on) or `sync` (the sync failed). */
export function recordFailure(meter: MetricMeter, scope: 'item' | 'sync', reason: string): void {
  meter.createCounter(SYNC_METRIC.failures, '1', 'Failures, by scope and reason').add(1, { scope, reason: reason || 'unknown' });
}

/** A wait the source asked for: `handedOver` when it was too long to sleep in place and Temporal retries later. */
export function recordThrottleWait(meter: MetricMeter, source: string, tenant: string, delayMs: number, handedOver: boolean): void {
  const tags = { source, tenant, where: handedOver ? 'temporal_retry' : 'in_activity' };
  meter.createCounter(SYNC_METRIC.throttleWaits, '1', 'Throttle waits, by source and tenant').add(1, tags);
  meter.createCounter(SYNC_METRIC.throttleWaitSeconds, 's', 'Seconds waited for throttling, by source and tenant').add(Math.ceil(delayMs / 1000), tags);
}
