import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import type { SyncActivities } from '../../activities/index.js';
import { FAILURE, type SyncResult } from '../../workflows/definitions.js';
import { startSync, withWorker, workflowSuite } from './environment.js';
import { fakeActivities, fakeConnector, file, type FakeConnector } from './fake-activities.js';

/**
 * A page's commit (the cursor, the page's failures) is a local activity: the worker runs it
 * inside the workflow task, history records one marker, the server hands out no task. The
 * commit that sweeps after a complete enumeration (it deletes batch after batch) still goes
 * through the task queue. Runs recorded before replay as they ran.
 */

let env: TestWorkflowEnvironment;

workflowSuite((started) => (env = started));

/**
 * A first sync of three pages (one file refused for good, a sweep of two gone documents after
 * the last page) as the workflow code before local commits ran it: each commitPage scheduled
 * through the task queue, with the sync's task priority.
 */
const HISTORY_BEFORE_LOCAL_COMMIT = new URL('./histories/sync-before-local-commit.json', import.meta.url);

/** Three pages; the last one closes the enumeration, and its commit sweeps two documents it did not see. */
function enumeration(c: FakeConnector, overrides: Partial<SyncActivities> = {}): SyncActivities {
  const base = fakeActivities(c);
  return fakeActivities(c, {
    planPage: async (input) => {
      const page = await base.planPage(input);
      return page.hasMore ? page : { ...page, sweepGeneration: 'walk' };
    },
    commitPage: async (input) => ({ ...(await base.commitPage(input)), swept: input.sweepGeneration ? 2 : 0 }),
    ...overrides,
  });
}

const pages = () => fakeConnector([[file('a.txt'), file('denied-b.txt')], [file('c.txt')], [file('d.txt')]]);

/** What a run's history shows of its steps, in order: `name:priorityKey` for a task, `local:name` for a local activity's marker. */
async function steps(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  const out: string[] = [];
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) out.push(`${scheduled.activityType?.name ?? ''}:${scheduled.priority?.priorityKey ?? 0}`);
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const data = marker.details?.data?.payloads?.[0]?.data;
      const type = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string }).activity_type : undefined;
      out.push(`local:${type ?? '?'}`);
    }
  }
  return out;
}

describe("a page's commit", () => {
  it('saves an ordinary page as a local activity, and sweeps after the enumeration through the task queue with the sync priority', async () => {
    const c = pages();
    const { result, ran, history } = await withWorker(env, enumeration(c), async (queue) => {
      const handle = await startSync(env, queue);
      const result = (await handle.result()) as SyncResult;
      return { result, ran: await steps(handle), history: await handle.fetchHistory() };
    });
    expect(result).toMatchObject({ outcome: 'synced', totals: { new: 3, failed: 1, deleted: 2, pages: 3 } });
    // Every page saved, in order, the refused file recorded with the first.
    expect(c.commits.map((k) => k.state.cursor)).toEqual([{ page: 1 }, { page: 2 }, { page: 3 }]);
    expect(c.commits[0]?.failed.map((f) => f.sourceId)).toEqual(['id-denied-b.txt']);
    expect([...c.recordedFailures.keys()]).toEqual(['id-denied-b.txt']);
    // A backfill (task priority 4) until its last page is saved: the sweeping commit is a task at that priority.
    expect(ran).toEqual([
      'beginSync:0',
      'planPage:4',
      'transferBatch:4',
      'local:commitPage',
      'planPage:4',
      'transferBatch:4',
      'local:commitPage',
      'planPage:4',
      'transferBatch:4',
      'commitPage:4',
      'dueFailedItems:2',
      'finishSync:2',
    ]);
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history);
  });

  it('retries a commit that fails, and the page is saved once it gets through', async () => {
    const c = pages();
    const base = enumeration(c);
    let attempts = 0;
    const result = await withWorker(
      env,
      enumeration(c, {
        commitPage: (input) => {
          attempts++;
          if (attempts === 1) return Promise.reject(new Error('connection terminated unexpectedly'));
          return base.commitPage(input);
        },
      }),
      async (queue) => (await startSync(env, queue)).result() as Promise<SyncResult>,
    );
    expect(result.outcome).toBe('synced');
    expect(attempts).toBe(4);
    expect(c.commits.map((k) => k.state.cursor)).toEqual([{ page: 1 }, { page: 2 }, { page: 3 }]);
  });

  it('does not retry a commit that fails for good: the run fails and the cursor stays', async () => {
    const c = pages();
    let attempts = 0;
    const failure = await withWorker(
      env,
      enumeration(c, {
        commitPage: () => {
          attempts++;
          return Promise.reject(ApplicationFailure.create({ type: FAILURE.connectorNotFound, message: 'connector 7 no longer exists' }));
        },
      }),
      async (queue): Promise<unknown> => (await startSync(env, queue)).result().then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(attempts).toBe(1);
    expect(c.savedPage).toBe(0);
  });

  it('replays a run recorded before commits were local activities', async () => {
    // Stored as the client fetched it (protobufjs' JSON of the History message).
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(HISTORY_BEFORE_LOCAL_COMMIT, 'utf8')) as Record<string, unknown>);
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, 'connector-sync-7');
  });
});
