import type { MetricMeter, MetricTags } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { Counters, renderMetrics } from '../../src/metrics.js';
import { recordActivityResult } from '../../src/telemetry/activity-interceptors.js';
import { recordThrottleWait } from '../../src/telemetry/sync-metrics.js';

/** A meter that sums what is recorded, by metric name and tags. */
function recordingMeter() {
  const values = new Map<string, number>();
  const key = (name: string, tags: MetricTags = {}) =>
    `${name}{${Object.entries(tags)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',')}}`;
  const metric = (name: string) => ({
    name,
    add: (v: number, tags?: MetricTags) => values.set(key(name, tags), (values.get(key(name, tags)) ?? 0) + v),
    record: (v: number, tags?: MetricTags) => values.set(key(name, tags), (values.get(key(name, tags)) ?? 0) + v),
  });
  const meter = { createCounter: metric, createHistogram: metric, createGauge: metric } as unknown as MetricMeter;
  return { meter, value: (name: string, tags?: MetricTags) => values.get(key(name, tags)) ?? 0, values };
}

describe('sync metrics from what activities return', () => {
  it('counts a transfer by result and bytes, and a permanent item failure by its code', () => {
    const { meter, value } = recordingMeter();
    recordActivityResult(meter, { sourceId: 'a', result: 'new', bytes: 100 });
    recordActivityResult(meter, { sourceId: 'b', result: 'updated', bytes: 50 });
    recordActivityResult(meter, { sourceId: 'c', result: 'failed', bytes: 0, reason: '403 on this file', code: 'accessDenied' });
    expect(value('connector_files', { result: 'new' })).toBe(1);
    expect(value('connector_files', { result: 'updated' })).toBe(1);
    expect(value('connector_files', { result: 'failed' })).toBe(1);
    expect(value('connector_bytes')).toBe(150);
    expect(value('connector_failures', { reason: 'accessDenied', scope: 'item' })).toBe(1);
  });

  it('counts every file of a batch by its result', () => {
    const { meter, value } = recordingMeter();
    recordActivityResult(meter, {
      outcomes: [
        { sourceId: 'a', result: 'new', bytes: 10 },
        { sourceId: 'b', result: 'unchanged', bytes: 0 },
        { sourceId: 'c', result: 'gone', bytes: 0 },
      ],
    });
    // transferBatch returns its outcomes as a list.
    recordActivityResult(meter, [
      { sourceId: 'd', result: 'new', bytes: 5 },
      { sourceId: 'e', result: 'new', bytes: 7 },
      { sourceId: 'f', result: 'failed', bytes: 0, code: 'accessDenied' },
    ]);
    expect(value('connector_files', { result: 'new' })).toBe(3);
    expect(value('connector_files', { result: 'unchanged' })).toBe(1);
    expect(value('connector_files', { result: 'gone' })).toBe(1);
    expect(value('connector_files', { result: 'failed' })).toBe(1);
    expect(value('connector_failures', { reason: 'accessDenied', scope: 'item' })).toBe(1);
    expect(value('connector_bytes')).toBe(22);
  });

  it('counts what a listed page settled without a transfer, and what a commit swept', () => {
    const { meter, value } = recordingMeter();
    recordActivityResult(meter, {
      transfers: [{ sourceId: 'x' }],
      unchanged: 4,
      renamed: 1,
      deleted: 2,
      skipped: [{ sourceId: 's', reason: 'type not accepted' }],
      failed: [{ sourceId: 'h', reason: 'over the size cap', code: 'tooLarge' }],
      cursor: {},
      hasMore: false,
      resynced: false,
    });
    recordActivityResult(meter, { swept: 3 });
    expect(value('connector_files', { result: 'unchanged' })).toBe(4);
    expect(value('connector_files', { result: 'renamed' })).toBe(1);
    expect(value('connector_files', { result: 'deleted' })).toBe(5);
    expect(value('connector_files', { result: 'skipped' })).toBe(1);
    expect(value('connector_failures', { reason: 'tooLarge', scope: 'item' })).toBe(1);
  });

  it('labels throttle waits by source, tenant and where the wait happened', () => {
    const { meter, value } = recordingMeter();
    recordThrottleWait(meter, 'onedrive', 'graph:contoso', 1500, false);
    recordThrottleWait(meter, 'onedrive', 'graph:contoso', 120_000, true);
    expect(value('connector_throttle_waits', { source: 'onedrive', tenant: 'graph:contoso', where: 'in_activity' })).toBe(1);
    expect(value('connector_throttle_waits', { source: 'onedrive', tenant: 'graph:contoso', where: 'temporal_retry' })).toBe(1);
    expect(value('connector_throttle_wait_seconds', { source: 'onedrive', tenant: 'graph:contoso', where: 'temporal_retry' })).toBe(120);
  });

  it('ignores values that say nothing about files', () => {
    const { meter, values } = recordingMeter();
    recordActivityResult(meter, undefined);
    recordActivityResult(meter, { kind: 'run', connectorType: 'onedrive' });
    expect(values.size).toBe(0);
  });
});

describe('/metrics', () => {
  it('still serves the bridge counters, with a comment, when the runtime exporter does not answer', async () => {
    const counters = new Counters();
    counters.inc('connector_bridge_syncs_started_total', { type: 'onedrive' });
    const text = await renderMetrics(counters, 'http://127.0.0.1:1/metrics', 500);
    expect(text).toMatch(/^# the Temporal runtime's metrics are unavailable: /);
    expect(text).toContain('connector_bridge_syncs_started_total{type="onedrive"} 1\n');
  });
});
