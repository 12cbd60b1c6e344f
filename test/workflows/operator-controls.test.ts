import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import type { SyncActivities } from '../../activities/index.js';
import { ConnectorIdKey, ConnectorTypeKey, SyncTriggerKey } from '../../src/telemetry/search-attributes.js';
import { fullResyncSignal, pauseSignal, resumeSignal, retryFailedSignal } from '../../workflows/controls.js';
import { progressQuery, stopSignal, type SyncConnectorInput, type SyncResult } from '../../workflows/definitions.js';
import { startSync, withWorker, workflowSuite } from './environment.js';
import { fakeActivities, fakeConnector, file, latch, type FakeConnector } from './fake-activities.js';

/**
 * The operator's view and controls of a running sync (the Web UI's details and the control signals), with
 * fake activities: the live details and activity summaries read back through
 * the client, continue-as-new runs marked `continued`, pause/resume at page
 * boundaries, a full resync of a running sync, and retryFailed.
 */

let env: TestWorkflowEnvironment;

workflowSuite((started) => (env = started));

const start = (taskQueue: string, input: Partial<SyncConnectorInput> = {}) =>
  startSync(env, taskQueue, input, {
    staticSummary: 'OneDrive sync of connector 7 · Marketing files',
    staticDetails: '**Type:** onedrive',
    typedSearchAttributes: [
      { key: ConnectorIdKey, value: 7 },
      { key: ConnectorTypeKey, value: 'onedrive' },
      { key: SyncTriggerKey, value: 'orchestrator' },
    ],
  });

/** The run's current details, as the Web UI and `temporal workflow metadata` read them. */
async function currentDetails(handle: WorkflowHandle): Promise<string> {
  const metadata = await handle.query<{ currentDetails?: string | null }>('__temporal_workflow_metadata');
  return metadata.currentDetails ?? '';
}

/** The summaries of the activities a run scheduled or ran locally (a local activity's marker), in order. */
async function activitySummaries(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : ''));
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Fake activities whose transfer of `holdName` (alone or in a batch) waits until released; `reached` opens when it starts. */
function holding(c: FakeConnector, holdName: string, overrides: Partial<SyncActivities> = {}) {
  const reached = latch();
  const release = latch();
  c.beforeTransfer = async (item) => {
    if (item.name !== holdName) return;
    reached.open();
    await release.promise;
  };
  return { activities: fakeActivities(c, overrides), reached: reached.promise, release: release.open };
}

describe('what the Web UI shows of a run', () => {
  it('keeps a live line of phase, page, counts, bytes and throttle waits, and names what each activity moves', async () => {
    const c = fakeConnector([[file('a.txt', { size: 2048 })], [file('b.txt'), file('denied-c.pdf')]]);
    const held = holding(c, 'b.txt', {
      planPage: async (input) => ({
        ...(await fakeActivities(c).planPage(input)),
        // What the activity interceptor attaches when the source made the listing wait.
        throttle: { waits: 2, waitedMs: 3500, until: '2026-12-01T16:52:10.000Z' },
      }),
    });
    const { during, after, summaries, result } = await withWorker(env, held.activities, async (queue) => {
      const handle = await start(queue);
      await held.reached;
      const during = await until('the live details of page 2', async () => {
        const d = await currentDetails(handle);
        return d.includes('transferring page 2') && d;
      });
      held.release();
      const result = (await handle.result()) as SyncResult;
      return { during, after: await currentDetails(handle), summaries: await activitySummaries(handle), result };
    });
    expect(result.outcome).toBe('synced');
    // The first run's title is its static summary, not repeated in the details.
    expect(during).not.toContain('Marketing files');
    expect(during).toContain('**Run 1 of this sync**, started by orchestrator at ');
    expect(during).toMatch(/\*\*Now:\*\* transferring page 2 \(\d in flight\)/);
    expect(during).toContain('**So far:** 1 new · 0 updated · 0 unchanged · 0 deleted · 0 failed · 2.0 KB stored');
    expect(during).toContain('**Throttled:** 4 waits (7 s in all), the last until 16:52:10 UTC');
    expect(after).toContain('**Now:** done');
    expect(after).toContain('**So far:** 2 new · 0 updated · 0 unchanged · 0 deleted · 1 failed · 2.0 KB stored');
    expect(summaries).toEqual(
      expect.arrayContaining([
        'check connector 7 and mark it syncing',
        'list changes, page 1',
        'page 1: 1 file (a.txt)',
        'save page 1: 1 file(s) moved, cursor',
        'list changes, page 2',
        'page 2: 2 files (b.txt … denied-c.pdf)',
        'save page 2: 2 file(s) moved, cursor',
        'mark connector 7 active with the summary',
      ]),
    );
    expect(summaries.every((s) => s !== '')).toBe(true);
  });

  it('a continued run is marked SyncTrigger=continued and its details say which run of the sync it is', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')], [file('c.txt')]]);
    const { first, last, details, result } = await withWorker(env, fakeActivities(c), async (queue) => {
      const handle = await start(queue, { maxHistoryEvents: 1 });
      const result = (await handle.result()) as SyncResult;
      const latest = env.client.workflow.getHandle(handle.workflowId);
      return {
        first: await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe(),
        last: await latest.describe(),
        details: await currentDetails(latest),
        result,
      };
    });
    expect(result.outcome).toBe('synced');
    expect(await first.staticSummary()).toBe('OneDrive sync of connector 7 · Marketing files');
    expect(first.typedSearchAttributes.get(SyncTriggerKey)).toBe('orchestrator');
    expect(last.runId).not.toBe(first.runId);
    expect(last.typedSearchAttributes.get(SyncTriggerKey)).toBe('continued');
    expect(last.typedSearchAttributes.get(ConnectorIdKey)).toBe(7);
    expect(last.typedSearchAttributes.get(ConnectorTypeKey)).toBe('onedrive');
    expect(details).toContain('**OneDrive sync of connector 7 · Marketing files**');
    expect(details).toMatch(/\*\*Run [34] of this sync\*\* \(continued as new; the sync was started by orchestrator at /);
  });

  it('a run started without the bridge\'s search attributes is marked manual', async () => {
    const c = fakeConnector([[file('a.txt')]]);
    const attrs = await withWorker(env, fakeActivities(c), async (queue) => {
      const handle = await env.client.workflow.start('syncConnector', { taskQueue: queue, workflowId: `connector-sync-test-${randomUUID().slice(0, 8)}`, args: [{ connectorId: 7 }] });
      await handle.result();
      return (await handle.describe()).typedSearchAttributes;
    });
    expect(attrs.get(SyncTriggerKey)).toBe('manual');
    expect(attrs.get(ConnectorIdKey)).toBe(7);
  });
});

describe('pause and resume', () => {
  it('pauses at the next page boundary with the cursor saved, out of syncing, and goes on from there on resume', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')], [file('c.txt')]]);
    const held = holding(c, 'a.txt');
    const { paused, details, result } = await withWorker(env, held.activities, async (queue) => {
      const handle = await start(queue);
      await held.reached;
      await handle.signal(pauseSignal, 'paused for maintenance');
      held.release();
      await until('the pause', async () => (await handle.query(progressQuery)).paused);
      const paused = { status: c.status, message: c.statusMessage, savedPage: c.savedPage, plannedFrom: [...c.plannedFrom] };
      const details = await currentDetails(handle);
      await handle.signal(resumeSignal);
      return { paused, details, result: (await handle.result()) as SyncResult };
    });
    expect(paused).toEqual({
      status: 'active',
      message:
        'OneDrive sync paused after page 1 (paused for maintenance); cursor saved; resume with: temporal workflow signal --workflow-id connector-sync-7 --name resume',
      savedPage: 1,
      plannedFrom: [0],
    });
    expect(details).toMatch(/\*\*Now:\*\* paused after page 1 since \d\d:\d\d:\d\d UTC, cursor saved \(paused for maintenance\)/);
    expect(result.outcome).toBe('synced');
    expect(c.plannedFrom).toEqual([0, 1, 2]);
    expect(c.statusLog).toEqual(['syncing', `active: ${paused.message}`, 'syncing', 'active: 3 new, 0 updated, 0 deleted, 0 failed']);
  });

  it('reports paused only once the connector row says so (a query during the status write sees no pause yet)', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')]]);
    const writing = latch();
    const written = latch();
    const base = fakeActivities(c);
    const held = holding(c, 'a.txt', {
      pauseSync: async (input) => {
        writing.open();
        await written.promise;
        return base.pauseSync(input);
      },
    });
    const { during, after } = await withWorker(env, held.activities, async (queue) => {
      const handle = await start(queue);
      await held.reached;
      await handle.signal(pauseSignal, 'maintenance');
      held.release();
      await writing.promise;
      // The status write has started and is held: whatever a query says now, the row is not paused yet.
      const during = { progress: await handle.query(progressQuery), status: c.status };
      written.open();
      const after = await until('the pause', async () => {
        const p = await handle.query(progressQuery);
        return p.paused && { progress: p, status: c.status };
      });
      await handle.signal(resumeSignal);
      await handle.result();
      return { during, after };
    });
    expect(during.status).toBe('syncing');
    expect(during.progress.paused).toBe(false);
    expect(during.progress.phase).not.toBe('paused');
    expect(after.status).toBe('active');
    expect(after.progress.phase).toBe('paused');
  });

  it('stop while paused ends the sync in error with the cursor kept', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')]]);
    const held = holding(c, 'a.txt');
    const result = await withWorker(env, held.activities, async (queue) => {
      const handle = await start(queue);
      await held.reached;
      await handle.signal(pauseSignal);
      held.release();
      await until('the pause', async () => (await handle.query(progressQuery)).paused);
      await handle.signal(stopSignal, 'stopped by an operator');
      return (await handle.result()) as SyncResult;
    });
    expect(result.outcome).toBe('cancelled');
    expect(c.savedPage).toBe(1);
    expect(c.status).toBe('error');
    expect(c.plannedFrom).toEqual([0]);
  });
});

describe('full resync of a running sync', () => {
  it('starts the enumeration over at the next page boundary without cancelling, and ends active', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')], [file('c.txt')]]);
    const held = holding(c, 'b.txt');
    const restarts: boolean[] = [];
    const base = fakeActivities(c);
    const activities: SyncActivities = {
      ...held.activities,
      planPage: (input) => {
        restarts.push(input.restart === true);
        return base.planPage(input);
      },
    };
    const result = await withWorker(env, activities, async (queue) => {
      const handle = await start(queue);
      await held.reached;
      await handle.signal(fullResyncSignal);
      const details = await currentDetails(handle);
      expect(details).toContain('**Asked:** a full resync from the next page boundary');
      held.release();
      return (await handle.result()) as SyncResult;
    });
    expect(result.outcome).toBe('synced');
    // Pages 1 and 2 of the pass under way, then everything again from the first page.
    expect(c.plannedFrom).toEqual([0, 1, 0, 1, 2]);
    expect(restarts).toEqual([false, false, true, false, false]);
    expect(c.savedPage).toBe(3);
    expect(c.status).toBe('active');
  });
});

describe('retryFailed', () => {
  const recorded = (c: FakeConnector) => {
    c.recordedFailures.set('id-fixed.txt', { reason: 'was broken', item: file('fixed.txt'), due: false });
    c.recordedFailures.set('id-other.txt', { reason: 'was broken', item: file('other.txt'), due: false });
  };

  it('with the pass under way fetches again every recorded failure, whatever its retry delay', async () => {
    const c = fakeConnector([[file('a.txt')]]);
    recorded(c);
    const held = holding(c, 'a.txt');
    const result = await withWorker(env, held.activities, async (queue) => {
      const handle = await start(queue);
      await held.reached;
      await handle.signal(retryFailedSignal);
      held.release();
      return (await handle.result()) as SyncResult;
    });
    expect(result.outcome).toBe('synced');
    expect(c.madeDue).toEqual(['all']);
    expect(c.transferred.sort()).toEqual(['a.txt', 'fixed.txt', 'other.txt']);
    expect(c.recordedFailures.size).toBe(0);
    expect(c.statusMessage).toBe('3 new, 0 updated, 0 deleted, 0 failed');
  });

  it('named source ids: only those are fetched again', async () => {
    const c = fakeConnector([[file('a.txt')]]);
    recorded(c);
    const held = holding(c, 'a.txt');
    await withWorker(env, held.activities, async (queue) => {
      const handle = await start(queue);
      await held.reached;
      await handle.signal(retryFailedSignal, { sourceIds: ['id-fixed.txt'] });
      held.release();
      return (await handle.result()) as SyncResult;
    });
    expect(c.madeDue).toEqual(['id-fixed.txt']);
    expect(c.transferred.sort()).toEqual(['a.txt', 'fixed.txt']);
    expect([...c.recordedFailures.keys()]).toEqual(['id-other.txt']);
  });

  it('alone ("retryFailedOnly"): no listing, only the recorded failures, and the connector ends active', async () => {
    const c = fakeConnector([[file('a.txt')]]);
    recorded(c);
    c.recordedFailures.set('id-broken-still.txt', { reason: 'was broken', item: file('broken-still.txt'), due: false });
    const result = await withWorker(env, fakeActivities(c), async (queue) => (await start(queue, { retryFailedOnly: true })).result() as Promise<SyncResult>);
    expect(result.outcome).toBe('synced');
    expect(c.plannedFrom).toEqual([]);
    // (A file a batch hands back is tried once more alone.)
    expect([...new Set(c.transferred)].sort()).toEqual(['broken-still.txt', 'fixed.txt', 'other.txt']);
    expect([...c.recordedFailures.keys()]).toEqual(['id-broken-still.txt']);
    expect(c.status).toBe('active');
    expect(c.statusMessage).toMatch(/^2 new, 0 updated, 0 deleted, 1 failed \(broken-still\.txt; retried by later syncs/);
  });
});
