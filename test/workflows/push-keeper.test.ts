import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import {
  checkSubscriptionsSignal,
  PUSH_KEEPER_WORKFLOW_TYPE,
  type KeepSubscriptionsInput,
  type KeepSubscriptionsResult,
  type PushKeeperInput,
  type PushKeeperResult,
} from '../../workflows/definitions.js';
import { withWorker, workflowSuite } from './environment.js';
import { fakeActivities, fakeConnector } from './fake-activities.js';

/**
 * The push keeper's rules with fake activities: when it checks the
 * subscriptions (on its own when a renewal falls due, at once for a lifecycle
 * event), when it asks for a sync pass, and that it ends when the connector is
 * no longer push. The waits are the keeper's own timers, shortened by its input;
 * the test waits for the calls, never for a time.
 */

let env: TestWorkflowEnvironment;
workflowSuite((started) => (env = started));

const kept = (over: Partial<Extract<KeepSubscriptionsResult, { kind: 'kept' }>> = {}): KeepSubscriptionsResult => ({
  kind: 'kept',
  active: 2,
  created: 0,
  renewed: 0,
  removed: 0,
  failed: 0,
  ...over,
});

/** Fake keeper activities answering from a script; `nth(n)` resolves once the n-th check was made. */
function fakeKeeper(script: (call: number, input: KeepSubscriptionsInput) => KeepSubscriptionsResult) {
  const checks: KeepSubscriptionsInput[] = [];
  const syncs: Array<{ connectorId: number; reason: string }> = [];
  const waiters: Array<{ n: number; kind: 'check' | 'sync'; resolve: () => void }> = [];
  const wake = () => {
    for (const w of [...waiters]) {
      if ((w.kind === 'check' ? checks : syncs).length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const until = (kind: 'check' | 'sync', n: number) =>
    new Promise<void>((resolve) => {
      waiters.push({ n, kind, resolve });
      wake();
    });
  const activities = fakeActivities(fakeConnector([]), {
    keepSubscriptions: (input) => {
      checks.push(input);
      const answer = script(checks.length, input);
      wake();
      return Promise.resolve(answer);
    },
    requestPushSync: (input) => {
      syncs.push(input);
      wake();
      return Promise.resolve();
    },
  });
  return { activities, checks, syncs, nthCheck: (n: number) => until('check', n), nthSync: (n: number) => until('sync', n) };
}

const slow = { recheckEveryMs: 3_600_000, passEveryMs: 86_400_000 };

function startKeeper(taskQueue: string, input: Partial<PushKeeperInput> = {}) {
  return env.client.workflow.start(PUSH_KEEPER_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: `push-keeper-test-${randomUUID().slice(0, 8)}`,
    args: [{ connectorId: 7, ...input, timing: { ...slow, ...input.timing } }],
  });
}

describe('the push keeper', () => {
  it('checks again on its own when the next renewal falls due, before the subscriptions expire', async () => {
    const keeper = fakeKeeper((call) => (call === 1 ? kept({ created: 2, nextCheckAt: new Date(Date.now() + 1500).toISOString() }) : kept({ renewed: 2 })));
    await withWorker(env, keeper.activities, async (queue) => {
      const handle = await startKeeper(queue, { timing: { lifetimeMs: 3000 } });
      await keeper.nthCheck(2);
      await handle.terminate('test over');
    });
    expect(keeper.checks.map((c) => c.lifecycle)).toEqual([[], []]);
    expect(keeper.checks[0]?.lifetimeMs).toBe(3000);
    expect(keeper.syncs).toEqual([]);
  });

  it('a lifecycle event is checked at once; a missed notification or a failed renewal asks for a sync pass', async () => {
    const keeper = fakeKeeper((call, input) =>
      call === 1 ? kept() : kept({ ...(input.lifecycle.some((e) => e.event === 'missed') ? { syncNeeded: 'the source reported missed notifications' } : {}) }),
    );
    await withWorker(env, keeper.activities, async (queue) => {
      const handle = await startKeeper(queue);
      await keeper.nthCheck(1);
      await handle.signal(checkSubscriptionsSignal, { lifecycle: { event: 'missed', subscriptionId: 'sub-1' } });
      await keeper.nthSync(1);
      await handle.terminate('test over');
    });
    expect(keeper.checks[1]?.lifecycle).toEqual([{ event: 'missed', subscriptionId: 'sub-1' }]);
    expect(keeper.syncs).toEqual([{ connectorId: 7, reason: 'the source reported missed notifications' }]);
  });

  it('asks for a pass at least every passEveryMs even when no notification came (the daily pass)', async () => {
    const keeper = fakeKeeper(() => kept());
    await withWorker(env, keeper.activities, async (queue) => {
      const handle = await startKeeper(queue, { timing: { passEveryMs: 1000 } });
      await keeper.nthSync(1);
      await handle.terminate('test over');
    });
    expect(keeper.syncs[0]).toEqual({ connectorId: 7, reason: 'daily pass' });
  });

  it('ends, saying why, once the connector is disabled, deleted or no longer push (the activity removed its subscriptions)', async () => {
    const keeper = fakeKeeper((call) => (call === 1 ? kept() : { kind: 'stopped', reason: 'connector 7 is disabled', removed: 2 }));
    const result = await withWorker(env, keeper.activities, async (queue) => {
      const handle = await startKeeper(queue);
      await keeper.nthCheck(1);
      await handle.signal(checkSubscriptionsSignal);
      return (await handle.result()) as PushKeeperResult;
    });
    expect(result).toEqual({ connectorId: 7, reason: 'connector 7 is disabled', removed: 2 });
  });

  it('continues as new to bound its history; the new run checks at once', async () => {
    const keeper = fakeKeeper(() => kept());
    await withWorker(env, keeper.activities, async (queue) => {
      const handle = await startKeeper(queue, { timing: { maxHistoryEvents: 1 } });
      const firstRun = (await handle.describe()).runId;
      await keeper.nthCheck(1);
      await handle.signal(checkSubscriptionsSignal);
      await keeper.nthCheck(2);
      // The first wake found the history long: the next check ran in a new run of the same keeper.
      const latest = env.client.workflow.getHandle(handle.workflowId);
      const described = await latest.describe();
      expect(described.runId).not.toBe(firstRun);
      await latest.terminate('test over');
    });
    expect(keeper.syncs).toEqual([]);
  });
});
