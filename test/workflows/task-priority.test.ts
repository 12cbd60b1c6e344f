import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import type { GrantPriority } from '../../src/budget/quotas.js';
import { requestSync } from '../../src/bridge/request-sync.js';
import { syncWorkflowId, TASK_PRIORITY_KEY, type BeginSyncResult } from '../../workflows/definitions.js';
import { startSync, withWorker, workflowSuite } from './environment.js';
import { fakeActivities, fakeConnector, file } from './fake-activities.js';

/**
 * Temporal task priority on the dev server (with the stack's
 * `matching.useNewMatcher=true`): an incremental sync's tasks, whoever asked for
 * it, are handed out before a backlog of backfills' tasks. The order is made
 * explicit: the tasks wait on a queue nobody polls until the server reports the
 * whole backlog by priority, then the test polls them one by one.
 *
 * One partition per task queue on this file's server: each partition orders
 * only its own backlog, and a poll is served by one partition, so with the
 * default four the first task handed out is the best of one partition only.
 */

let env: TestWorkflowEnvironment;

workflowSuite(
  (started) => (env = started),
  [
    'matching.numTaskqueueReadPartitions=1',
    'matching.numTaskqueueWritePartitions=1',
    // DescribeTaskQueue's backlog counts are cached this long (default 5 s): the wait for the backlog is shorter.
    'matching.TaskQueueInfoByBuildIdTTL="100ms"',
  ],
);

const NAMESPACE = 'default';
const WORKFLOW_TASKS = 1;
const ACTIVITY_TASKS = 2;

/** Waits (re-asking) until the server counts exactly `expected` tasks waiting on the queue per priority key. */
async function backlogIs(taskQueue: string, taskQueueType: number, expected: Record<number, number>): Promise<void> {
  const want = JSON.stringify(expected);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const described = await env.client.workflowService.describeTaskQueue({
      namespace: NAMESPACE,
      taskQueue: { name: taskQueue, kind: 1 },
      taskQueueType,
      reportStats: true,
    });
    const counts: Record<number, number> = {};
    for (const [key, stats] of Object.entries(described.statsByPriorityKey ?? {})) {
      const n = Number(String(stats.approximateBacklogCount ?? 0));
      if (n > 0) counts[Number(key)] = n;
    }
    const seen = JSON.stringify(counts);
    if (seen === want) return;
    if (Date.now() > deadline) throw new Error(`the backlog of ${taskQueue} never became ${want} (last seen ${seen})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Takes the next workflow task off the queue by hand: the id of its workflow. */
async function pollWorkflowTask(taskQueue: string): Promise<string> {
  const task = await env.connection.withDeadline(Date.now() + 30_000, () =>
    env.client.workflowService.pollWorkflowTaskQueue({ namespace: NAMESPACE, taskQueue: { name: taskQueue, kind: 1 }, identity: 'task-priority-test' }),
  );
  const id = task.workflowExecution?.workflowId;
  if (!id) throw new Error(`no workflow task came on ${taskQueue}`);
  return id;
}

interface PolledActivity {
  workflowId: string;
  activityType: string;
  priorityKey: number;
  taskToken: Uint8Array;
}

/** Takes the next activity task off the queue by hand. */
async function pollActivityTask(taskQueue: string): Promise<PolledActivity> {
  const task = await env.connection.withDeadline(Date.now() + 30_000, () =>
    env.client.workflowService.pollActivityTaskQueue({ namespace: NAMESPACE, taskQueue: { name: taskQueue, kind: 1 }, identity: 'task-priority-test' }),
  );
  const workflowId = task.workflowExecution?.workflowId;
  if (!workflowId || !task.taskToken) throw new Error(`no activity task came on ${taskQueue}`);
  return { workflowId, activityType: task.activityType?.name ?? '', priorityKey: task.priority?.priorityKey ?? 0, taskToken: task.taskToken };
}

async function terminateAll(handles: WorkflowHandle[]): Promise<void> {
  await Promise.all(handles.map((h) => h.terminate('task priority test done').catch(() => undefined)));
}

/** The activities a run scheduled, in order, with the priority key each was scheduled with (0: none, the run's own). */
async function scheduledPriorities(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a !== null && a !== undefined)
    .map((a) => `${a.activityType?.name ?? ''}:${a.priority?.priorityKey ?? 0}`);
}

/**
 * A first sync of three pages (one file failing for good) as the workflow code before task
 * priority ran it, beside activities that already answered a priority (a rolling deploy): its
 * beginSync and commitPage results carry one, its activities were scheduled without.
 */
const HISTORY_BEFORE_PRIORITY = new URL('./histories/sync-before-task-priority.json', import.meta.url);

const BACKFILLS = 6;
const INCREMENTAL = 50;

describe('Temporal task priority of syncs', () => {
  it('starts a push-requested incremental sync ahead of a backlog of backfill starts', async () => {
    const taskQueue = `priority-starts-${randomUUID().slice(0, 8)}`;
    const request = (connectorId: number, priority: GrantPriority, trigger: 'orchestrator' | 'push') =>
      requestSync(env.client, taskQueue, {
        connectorId,
        type: 'onedrive',
        trigger,
        connector: { name: `connector ${connectorId}`, scope: null, scopeId: null, priority },
      });
    // Nobody polls this queue: every first workflow task waits in the backlog, the incremental one last.
    for (let id = 1; id <= BACKFILLS; id++) await request(id, 'backfill', 'orchestrator');
    await request(INCREMENTAL, 'interactive', 'push');
    const handles = [...Array.from({ length: BACKFILLS }, (_, i) => i + 1), INCREMENTAL].map((id) => env.client.workflow.getHandle(syncWorkflowId(id)));
    try {
      await backlogIs(taskQueue, WORKFLOW_TASKS, { [TASK_PRIORITY_KEY.interactive]: 1, [TASK_PRIORITY_KEY.backfill]: BACKFILLS });
      const order: string[] = [];
      for (let i = 0; i <= BACKFILLS; i++) order.push(await pollWorkflowTask(taskQueue));
      // The incremental one first; the backfills after it, in whatever order the matcher keeps among
      // equal priorities (arrival order on an idle server, not always under load: it is not what is proven here).
      expect(order[0]).toBe(syncWorkflowId(INCREMENTAL));
      expect(order.slice(1).sort()).toEqual(Array.from({ length: BACKFILLS }, (_, i) => syncWorkflowId(i + 1)).sort());
      expect(await handles[BACKFILLS]?.describe().then((d) => d.staticDetails())).toContain('**Priority:** incremental, ahead of backfills (task priority 2)');
    } finally {
      await terminateAll(handles);
    }
  });

  it("hands out an incremental sync's activities before a backlog of backfills' activities, whatever priority the runs started with", async () => {
    const taskQueue = `priority-activities-${randomUUID().slice(0, 8)}`;
    // A worker for the workflows only: the test takes the activity tasks off the queue itself.
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      enableNonLocalActivities: false,
    });
    const connectors = [...Array.from({ length: BACKFILLS }, (_, i) => i + 1), INCREMENTAL];
    const handles: WorkflowHandle[] = [];
    await worker.runUntil(async () => {
      try {
        // Started by hand, without a priority: each run's beginSync waits on the queue at the server's default.
        for (const connectorId of connectors) handles.push(await startSync(env, taskQueue, { connectorId }));
        const begins = [];
        for (let i = 0; i < connectors.length; i++) begins.push(await pollActivityTask(taskQueue));
        expect(begins.map((t) => t.activityType)).toEqual(connectors.map(() => 'beginSync'));
        // beginSync answers with the budget's decision from each connector's saved state; the incremental one last.
        const byWorkflow = new Map(handles.map((h, i) => [h.workflowId, connectors[i]]));
        for (const task of begins) {
          const priority: GrantPriority = byWorkflow.get(task.workflowId) === INCREMENTAL ? 'interactive' : 'backfill';
          const answer: BeginSyncResult = { kind: 'run', connectorType: 'onedrive', priority };
          await env.client.activity.complete(task.taskToken, answer);
        }
        // Each run has now scheduled its first listing, with its own priority.
        await backlogIs(taskQueue, ACTIVITY_TASKS, { [TASK_PRIORITY_KEY.interactive]: 1, [TASK_PRIORITY_KEY.backfill]: BACKFILLS });
        const listings = [];
        for (let i = 0; i < connectors.length; i++) listings.push(await pollActivityTask(taskQueue));
        const incremental = handles[BACKFILLS]?.workflowId;
        expect(listings.map((t) => `${t.activityType}:${t.workflowId === incremental ? 'incremental' : 'backfill'}:${t.priorityKey}`)).toEqual([
          'planPage:incremental:2',
          ...Array.from({ length: BACKFILLS }, () => 'planPage:backfill:4'),
        ]);
      } finally {
        await terminateAll(handles);
      }
    });
  });

  it("gives a backfill's activities backfill priority until its enumeration's last page is saved, then incremental, and shows it", async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')], [file('c.txt')]]);
    const { first, second, details, history } = await withWorker(env, fakeActivities(c), async (queue) => {
      const handle = await startSync(env, queue);
      await handle.result();
      const again = await startSync(env, queue);
      await again.result();
      const metadata = await handle.query<{ currentDetails?: string | null }>('__temporal_workflow_metadata');
      return {
        first: await scheduledPriorities(handle),
        second: await scheduledPriorities(again),
        details: metadata.currentDetails ?? '',
        history: await handle.fetchHistory(),
      };
    });
    // Its own history replays (the marker recorded where the first keyed activity was scheduled).
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history);
    // Each page's commit is a local activity (no task, so no task priority: test/workflows/page-commit.test.ts).
    const page = (key: number) => [`planPage:${key}`, `transferBatch:${key}`];
    // A first sync: the walk is a backfill until the commit of its last page, which saves a cursor without a walk under way.
    expect(first).toEqual(['beginSync:0', ...page(4), ...page(4), ...page(4), 'dueFailedItems:2', 'finishSync:2']);
    expect(details).toContain('**Priority:** incremental, ahead of backfills (task priority 2)');
    // The next sync of the connector is incremental from its start.
    expect(second).toEqual(['beginSync:0', 'planPage:2', 'dueFailedItems:2', 'finishSync:2']);
  });

  it('keeps the priority across continue-as-new', async () => {
    const c = fakeConnector([[file('a.txt')], [file('b.txt')], [file('c.txt')]]);
    const { runs } = await withWorker(env, fakeActivities(c), async (queue) => {
      const handle = await startSync(env, queue, { maxHistoryEvents: 1 });
      await handle.result();
      const runs: string[][] = [];
      let runId: string | undefined = handle.firstExecutionRunId;
      while (runId) {
        const run: WorkflowHandle = env.client.workflow.getHandle(handle.workflowId, runId);
        runs.push(await scheduledPriorities(run));
        const events = (await run.fetchHistory()).events ?? [];
        const closing = events[events.length - 1];
        runId = closing?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      }
      return { runs };
    });
    expect(runs.length).toBeGreaterThan(1);
    // Continued runs skip beginSync: their first listing already carries the priority the last commit decided.
    expect(runs[1]?.[0]).toBe('planPage:4');
    expect(runs.flat().filter((a) => !a.startsWith('beginSync')).map((a) => a.split(':')[1])).toEqual([
      ...Array.from({ length: 6 }, () => '4'),
      '2',
      '2',
    ]);
  });

  it('replays a run recorded before activities carried a priority', async () => {
    // Stored as the client fetched it (protobufjs' JSON of the History message).
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(HISTORY_BEFORE_PRIORITY, 'utf8')) as Record<string, unknown>);
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, 'connector-sync-7');
  });
});
