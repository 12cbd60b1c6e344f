import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import type { SyncActivities } from '../../activities/index.js';
import {
  failedItemsQuery,
  progressQuery,
  stopSignal,
  syncRequestedSignal,
  type SyncConnectorInput,
  type SyncResult,
} from '../../workflows/definitions.js';
import { startSync, withWorker, workflowSuite } from './environment.js';
import { fakeActivities, fakeConnector, file, latch, type FakeConnector } from './fake-activities.js';

let env: TestWorkflowEnvironment;

workflowSuite((started) => (env = started));

const start = (taskQueue: string, input: Partial<SyncConnectorInput> = {}) => startSync(env, taskQueue, input);

async function sync(c: FakeConnector, input: Partial<SyncConnectorInput> = {}, overrides: Partial<SyncActivities> = {}): Promise<SyncResult> {
  return withWorker(env, fakeActivities(c, overrides), async (queue) => (await start(queue, input)).result() as Promise<SyncResult>);
}

describe('syncConnector pages, commits and finishes', () => {
  it('transfers every page, saves the cursor after each, and ends active with the summary', async () => {
    const c = fakeConnector([[file('a.txt'), file('b.txt')], [file('c.txt')]]);
    const result = await sync(c);
    expect(result.outcome).toBe('synced');
    expect(result.totals).toMatchObject({ new: 3, failed: 0, pages: 2 });
    expect(c.commits.map((k) => k.state.cursor)).toEqual([{ page: 1 }, { page: 2 }]);
    expect(c.status).toBe('active');
    expect(c.statusMessage).toBe('3 new, 0 updated, 0 deleted, 0 failed');
  });

  it('a skipped or rejected connector ends at once, terminal, without listing', async () => {
    const c = fakeConnector([[file('a.txt')]]);
    const skipped = await sync(c, {}, { beginSync: () => Promise.resolve({ kind: 'skip', reason: 'connector 7 is disabled' }) });
    expect(skipped).toMatchObject({ outcome: 'skipped', message: 'connector 7 is disabled' });
    const rejected = await sync(c, {}, { beginSync: () => Promise.resolve({ kind: 'reject', reason: 'type mismatch' }) });
    expect(rejected.outcome).toBe('rejected');
    expect(c.plannedFrom).toEqual([]);
  });
});

describe('a sync request that arrives mid-sync', () => {
  it('gives exactly one extra pass from the saved cursor, however many requests came during the pass', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')]]);
    const inTransfer = latch();
    const release = latch();
    c.beforeTransfer = async (item) => {
      if (item.name === 'a.txt') {
        inTransfer.open();
        await release.promise;
      }
    };
    const result = await withWorker(
      env,
      fakeActivities(c),
      async (queue) => {
        const handle = await start(queue);
        await inTransfer.promise;
        await handle.signal(syncRequestedSignal, { chunkingSession: 'second' });
        await handle.signal(syncRequestedSignal, {});
        release.open();
        return (await handle.result()) as SyncResult;
      },
    );
    expect(result.outcome).toBe('synced');
    // Pass 1 lists pages 0 and 1; the extra pass lists once from the saved cursor (caught up).
    expect(c.plannedFrom).toEqual([0, 1, 2]);
  });

  it('a push request mid-sync says so in the run details', async () => {
    const c = fakeConnector([[file('a.txt')]]);
    const inTransfer = latch();
    const release = latch();
    c.beforeTransfer = async () => {
      inTransfer.open();
      await release.promise;
    };
    const details = await withWorker(env, fakeActivities(c), async (queue) => {
      const handle = await start(queue);
      await inTransfer.promise;
      await handle.signal(syncRequestedSignal, { trigger: 'push' });
      await handle.signal(syncRequestedSignal, { trigger: 'push' });
      const metadata = await handle.query<{ currentDetails?: string | null }>('__temporal_workflow_metadata');
      release.open();
      await handle.result();
      return metadata.currentDetails ?? '';
    });
    expect(details).toContain('**Asked again during this run:** 2 times by push');
  });

  it('with no request during the pass there is no extra listing', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')]]);
    await sync(c);
    expect(c.plannedFrom).toEqual([0, 1]);
  });

  it('still gets its extra pass when the sync continues as new in between', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')], [file('c.txt')]]);
    const inTransfer = latch();
    const release = latch();
    c.beforeTransfer = async (item) => {
      if (item.name === 'a.txt') {
        inTransfer.open();
        await release.promise;
      }
    };
    const { result, progress } = await withWorker(
      env,
      fakeActivities(c),
      async (queue) => {
        const handle = await start(queue, { maxHistoryEvents: 1 });
        await inTransfer.promise;
        await handle.signal(syncRequestedSignal);
        release.open();
        const result = (await env.client.workflow.getHandle(handle.workflowId).result()) as SyncResult;
        const progress = await env.client.workflow.getHandle(handle.workflowId).query(progressQuery);
        return { result, progress };
      },
    );
    expect(result.outcome).toBe('synced');
    expect(progress.runs).toBeGreaterThan(2);
    expect(c.plannedFrom).toEqual([0, 1, 2, 3]);
  });
});

/** History events of each run of a workflow, first to last, following its continue-as-new chain. */
async function eventsPerRun(workflowId: string, firstRunId: string): Promise<number[]> {
  const counts: number[] = [];
  for (let runId: string | null | undefined = firstRunId; runId; ) {
    const history: { events?: Array<{ workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null }> | null } =
      await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    counts.push(events.length);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return counts;
}

describe('continue-as-new', () => {
  it('starts the next run before history would pass the limit, so no run ends above it', async () => {
    const c = fakeConnector(Array.from({ length: 12 }, (_, i) => [file(`page-${i}.txt`)]));
    const limit = 80;
    const { result, runs } = await withWorker(env, fakeActivities(c), async (queue) => {
      const handle = await start(queue, { maxHistoryEvents: limit });
      const result = (await env.client.workflow.getHandle(handle.workflowId).result()) as SyncResult;
      return { result, runs: await eventsPerRun(handle.workflowId, handle.firstExecutionRunId) };
    });
    expect(result.totals).toMatchObject({ new: 12, pages: 12 });
    expect(runs.length).toBeGreaterThan(1);
    expect(Math.max(...runs)).toBeLessThanOrEqual(limit);
  });

  it('carries totals, failures and skip reasons to the next run', async () => {
    const c = fakeConnector([[file('a.txt'), file('denied-x.pdf')], [file('b.txt'), file('gone-y.txt')], [file('c.txt')]]);
    const result = await sync(c, { maxHistoryEvents: 1 });
    expect(result.outcome).toBe('synced');
    expect(result.totals).toMatchObject({ new: 3, failed: 1, skipped: 1, pages: 3 });
    expect(c.statusMessage).toMatch(/^3 new, 0 updated, 0 deleted, 1 skipped: deleted at the source before download, 1 failed \(denied-x\.pdf/);
  });
});

describe('stop and cancellation', () => {
  it('stop finishes the current page, keeps its cursor and ends in error saying so', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')], [file('c.txt')]]);
    const inTransfer = latch();
    const release = latch();
    c.beforeTransfer = async () => {
      inTransfer.open();
      await release.promise;
    };
    const result = await withWorker(
      env,
      fakeActivities(c),
      async (queue) => {
        const handle = await start(queue);
        await inTransfer.promise;
        await handle.signal(stopSignal, 'stopped by an operator');
        release.open();
        return (await handle.result()) as SyncResult;
      },
    );
    expect(result.outcome).toBe('cancelled');
    expect(c.savedPage).toBe(1);
    expect(c.transferred).toEqual(['a.txt']);
    expect(c.status).toBe('error');
    expect(c.statusMessage).toBe('stopped by an operator; the next sync resumes from the last saved page');
  });

  it('cancellation ends the connector in error with the cursor of the last committed page', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')], [file('c.txt')]]);
    const secondPage = latch();
    c.beforeTransfer = async (item) => {
      if (item.name === 'b.txt') {
        secondPage.open();
        // Runs until cancelled: a heartbeat is how an activity learns of it.
        for (;;) {
          Context.current().heartbeat();
          await Promise.race([Context.current().cancelled, new Promise((r) => setTimeout(r, 50))]);
        }
      }
    };
    const error = await withWorker(
      env,
      fakeActivities(c),
      async (queue) => {
        const handle = await start(queue);
        await secondPage.promise;
        await handle.cancel();
        return handle.result().then(() => undefined, (e: unknown) => e);
      },
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(c.savedPage).toBe(1);
    expect(c.status).toBe('error');
    expect(c.statusMessage).toBe('OneDrive sync cancelled by an operator; the next sync resumes from the last saved page');
  });
});

describe('per-item failures are values; outages end the sync', () => {
  it('a file refused for good and one that fails through every retry are recorded, and the sync ends active', async () => {
    const c = fakeConnector([[file('a.txt'), file('denied-secret.pdf'), file('broken-empty.txt'), file('b.txt')]]);
    const { result, failedItems } = await withWorker(env, fakeActivities(c), async (queue) => {
      const handle = await start(queue);
      const result = (await handle.result()) as SyncResult;
      return { result, failedItems: await handle.query(failedItemsQuery) };
    });
    expect(result.outcome).toBe('synced');
    expect(result.totals).toMatchObject({ new: 2, failed: 2 });
    expect(failedItems.map((f) => f.name).sort()).toEqual(['broken-empty.txt', 'denied-secret.pdf']);
    expect(failedItems.find((f) => f.name === 'broken-empty.txt')?.reason).toBe('GET /content answered 500');
    const [commit] = c.commits;
    expect(commit?.failed.map((f) => f.item?.name).sort()).toEqual(['broken-empty.txt', 'denied-secret.pdf']);
    expect(commit?.cleared.sort()).toEqual(['id-a.txt', 'id-b.txt']);
    expect(c.status).toBe('active');
    expect(c.statusMessage).toMatch(/2 new, 0 updated, 0 deleted, 2 failed \(/);
  });

  it('an outage of our own dependency fails the sync, names the file, and does not move the cursor', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt'), file('outage-c.txt')]]);
    const error = await withWorker(env, fakeActivities(c), async (queue) => (await start(queue)).result().then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(c.savedPage).toBe(1);
    expect(c.recordedFailures.size).toBe(0);
    expect(c.status).toBe('error');
    expect(c.statusMessage).toBe(
      'OneDrive sync stopped while storing "outage-c.txt" (page 2): the object store is unavailable (ECONNREFUSED). Nothing was lost; the next sync resumes from the last saved page once it is back.',
    );
    expect((error as WorkflowFailedError).cause?.message).toBe(c.statusMessage);
  });

  it('a store rejection is the file\'s fault only when other files get through', async () => {
    const alone = fakeConnector([[file('rejected-a.txt'), file('rejected-b.txt')]]);
    await expect(sync(alone)).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(alone.status).toBe('error');
    expect(alone.statusMessage).toMatch(/^OneDrive sync failed while storing "rejected-a.txt": the object store failed to store it \(MalformedXML\)\. The next sync/);
    expect(alone.savedPage).toBe(0);

    const withOthers = fakeConnector([[file('ok.txt'), file('rejected-a.txt')]]);
    const result = await sync(withOthers);
    expect(result.outcome).toBe('synced');
    expect([...withOthers.recordedFailures.keys()]).toEqual(['id-rejected-a.txt']);
  });

  it('a listing that fails for good ends the connector in error without a doubled prefix', async () => {
    const c = fakeConnector([[file('a.txt')]]);
    const { ApplicationFailure } = await import('@temporalio/common');
    const failed = sync(c, {}, {
      planPage: () =>
        Promise.reject(
          ApplicationFailure.create({
            type: 'SourcePermanentError',
            message: 'the source rejected our credentials even after a token refresh; reconnect the account',
            nonRetryable: true,
            details: [{ code: 'invalid_grant', scope: 'sync' }],
          }),
        ),
    });
    await expect(failed).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(c.status).toBe('error');
    expect(c.statusMessage).toBe(
      'The source rejected our credentials even after a token refresh; reconnect the account. OneDrive sync failed while listing changes.',
    );
  });

  it('a missing connector fails the run and writes no status', async () => {
    const c = fakeConnector([]);
    const { ApplicationFailure } = await import('@temporalio/common');
    const error = await sync(c, {}, {
      beginSync: () => Promise.reject(ApplicationFailure.create({ type: 'ConnectorNotFound', message: 'connector 7 does not exist', nonRetryable: true })),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(c.status).toBe('pending');
  });
});

describe('files recorded as failed by an earlier sync', () => {
  it('are retried when due even though the source reports no change, and dropped once stored', async () => {
    const c = fakeConnector([]);
    c.recordedFailures.set('id-fixed.txt', { reason: 'was broken', item: file('fixed.txt'), due: true });
    c.recordedFailures.set('id-broken-still.txt', { reason: 'was broken', item: file('broken-still.txt'), due: true });
    c.recordedFailures.set('id-later.txt', { reason: 'was broken', item: file('later.txt'), due: false });
    const result = await sync(c);
    expect(result.outcome).toBe('synced');
    // Both in one batch; the one the batch could not store went alone afterwards.
    expect(c.batches).toEqual([['fixed.txt', 'broken-still.txt']]);
    expect(c.transferred.sort()).toEqual(['broken-still.txt', 'broken-still.txt', 'fixed.txt']);
    expect([...c.recordedFailures.keys()].sort()).toEqual(['id-broken-still.txt', 'id-later.txt']);
    expect(result.totals).toMatchObject({ new: 1, failed: 1 });
    expect(c.statusMessage).toMatch(/1 new, 0 updated, 0 deleted, 2 failed \(/);
  });
});

describe('batched transfers', () => {
  it('sends small files in batches, a large file alone, and spends less than one history event per small file', async () => {
    const small = Array.from({ length: 120 }, (_, i) => file(`f${String(i).padStart(3, '0')}.txt`));
    const large = file('video.mp4', { size: 100 * 1024 * 1024 });
    const c = fakeConnector([[...small.slice(0, 60), large, ...small.slice(60)]]);
    const { result, events } = await withWorker(env, fakeActivities(c), async (queue) => {
      const handle = await start(queue);
      const result = (await handle.result()) as SyncResult;
      const history = await handle.fetchHistory();
      return { result, events: history.events?.length ?? 0 };
    });
    expect(result.totals).toMatchObject({ new: 121, failed: 0 });
    expect(c.batches.map((b) => b.length).sort()).toEqual([100, 20]);
    expect(c.batches.flat()).not.toContain('video.mp4');
    expect(c.transferred.filter((n) => n === 'video.mp4')).toHaveLength(1);
    expect(events / small.length).toBeLessThanOrEqual(1);
  });

  it('a batch is cut by bytes as well as by count', async () => {
    const files = Array.from({ length: 6 }, (_, i) => file(`m${i}.pdf`, { size: 10 * 1024 * 1024 }));
    const c = fakeConnector([files]);
    await sync(c, { tuning: { bytesPerBatch: 25 * 1024 * 1024 } });
    expect(c.batches.map((b) => b.length)).toEqual([2, 2, 2]);
  });

  it('a file the batch hands back goes alone, and is recorded as failed after its retries; the rest of the batch is stored', async () => {
    const c = fakeConnector([[file('a.txt'), file('broken-b.txt'), file('c.txt')]]);
    const result = await sync(c);
    expect(result.totals).toMatchObject({ new: 2, failed: 1 });
    expect(c.batches).toEqual([['a.txt', 'broken-b.txt', 'c.txt']]);
    expect(c.transferred.filter((n) => n === 'broken-b.txt')).toHaveLength(2);
    expect([...c.recordedFailures.keys()]).toEqual(['id-broken-b.txt']);
  });

  it('an outage inside a batch fails the sync and keeps the cursor', async () => {
    const c = fakeConnector([[file('a.txt'), file('outage-b.txt')]]);
    await expect(sync(c)).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(c.status).toBe('error');
    expect(c.statusMessage).toMatch(/^OneDrive sync stopped while storing "outage-b.txt" \(page 1\): the object store is unavailable/);
    expect(c.savedPage).toBe(0);
  });

  it('a batch that fails as a whole for another reason falls back to one transfer per file', async () => {
    const c = fakeConnector([[file('a.txt'), file('b.txt')]]);
    const { ApplicationFailure } = await import('@temporalio/common');
    const result = await sync(c, {}, { transferBatch: () => Promise.reject(ApplicationFailure.create({ type: 'Bug', message: 'batch crashed', nonRetryable: true })) });
    expect(result.totals).toMatchObject({ new: 2, failed: 0 });
    expect(c.transferred.sort()).toEqual(['a.txt', 'b.txt']);
  });
});
