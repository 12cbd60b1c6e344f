import { randomUUID } from 'node:crypto';
import { activityInfo } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { nextCheckAt, renewalDueAt, subscriptionLifetimeMs } from '../../src/push/renewal-schedule.js';
import {
  DEFAULT_PUSH_KEEPER_TIMING,
  PUSH_KEEPER_WORKFLOW_TYPE,
  type KeepSubscriptionsResult,
  type PushKeeperResult,
  type PushKeeperTiming,
} from '../../workflows/definitions.js';
import { timeSkippingSuite, withWorker } from './environment.js';
import { fakeActivities, fakeConnector } from './fake-activities.js';

/**
 * The push keeper over weeks of its own time, on Temporal's time-skipping test
 * server, with the production lifetimes (Teams channel messages 3 days, driveItem
 * 42,300 minutes, Drive channels 7 days) and the production keeper timing (a look
 * every 15 minutes, a pass every day). The source is faked: it grants each
 * subscription the cloud's lifetime and records every create, renewal and stop
 * at the workflow's time (the activity's scheduled time, stamped by the test
 * server); when to renew is the production rule (src/push/renewal-schedule.ts),
 * so the test shows that rule and the workflow's waits together renew each
 * subscription before it expires, and not early.
 */

let env: TestWorkflowEnvironment;
timeSkippingSuite((started) => (env = started));

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** How late after its due time a renewal may come: the wake-up, a workflow task and an activity, in the server's time. */
const PROMPT = MINUTE;

type Kind = 'driveItem' | 'channelMessages' | 'driveChanges';

interface Watched {
  kind: Kind;
  resource: string;
}

interface SourceSubscription extends Watched {
  id: string;
  expiresAt: number;
}

type SourceEvent = SourceSubscription & { at: number; op: 'create' | 'renew' | 'stop'; expiredAt?: number };

/**
 * The clouds' side of the keeper's activity: `watched` are the connector's resources, `deletedAt`
 * the workflow time at which the connector is deleted (from then on a look removes everything).
 */
function fakeSource(watched: Watched[], deletedAt: number) {
  const live = new Map<string, SourceSubscription>();
  const events: SourceEvent[] = [];
  const checks: number[] = [];
  const passes: Array<{ at: number; reason: string }> = [];
  /** Subscriptions a look found already expired: notifications lost. */
  const lapsed: Array<SourceSubscription & { foundAt: number }> = [];

  const create = (want: Watched, at: number): void => {
    const sub = { ...want, id: randomUUID(), expiresAt: at + subscriptionLifetimeMs(want.kind) };
    live.set(sub.id, sub);
    events.push({ ...sub, at, op: 'create' });
  };
  const stop = (sub: SourceSubscription, at: number): void => {
    live.delete(sub.id);
    events.push({ ...sub, at, op: 'stop' });
  };

  const keep = (connectorId: number, now: number): KeepSubscriptionsResult => {
    checks.push(now);
    for (const sub of live.values()) if (sub.expiresAt <= now) lapsed.push({ ...sub, foundAt: now });
    if (now >= deletedAt) {
      const removed = live.size;
      for (const sub of [...live.values()]) stop(sub, now);
      return { kind: 'stopped', reason: `connector ${connectorId} was deleted`, removed };
    }
    let created = 0;
    let renewed = 0;
    for (const want of watched) {
      const current = [...live.values()].find((s) => s.resource === want.resource);
      if (!current) {
        create(want, now);
        created++;
      } else if (now >= renewalDueAt(current.kind, current.expiresAt)) {
        renewed++;
        if (current.kind === 'driveChanges') {
          // Drive channels cannot be renewed: a new one opens first, then the old one stops.
          create(want, now);
          stop(current, now);
        } else {
          const expiresAt = now + subscriptionLifetimeMs(current.kind);
          events.push({ ...current, at: now, op: 'renew', expiresAt, expiredAt: current.expiresAt });
          live.set(current.id, { ...current, expiresAt });
        }
      }
    }
    const checkAt = nextCheckAt(
      now,
      [...live.values()].map((s) => renewalDueAt(s.kind, s.expiresAt)),
    );
    return {
      kind: 'kept',
      active: live.size,
      created,
      renewed,
      removed: 0,
      failed: 0,
      ...(created > 0 ? { syncNeeded: 'new push subscriptions' } : {}),
      ...(checkAt !== undefined ? { nextCheckAt: new Date(checkAt).toISOString() } : {}),
    };
  };

  const activities = fakeActivities(fakeConnector([]), {
    keepSubscriptions: (input) => Promise.resolve(keep(input.connectorId, activityInfo().currentAttemptScheduledTimestampMs)),
    requestPushSync: (input) => {
      passes.push({ at: activityInfo().currentAttemptScheduledTimestampMs, reason: input.reason });
      return Promise.resolve();
    },
  });
  return { activities, events, checks, passes, lapsed, live };
}

/** The renewals (Graph) or replacements (Drive: the new channel's create) of one resource, in order. */
function renewalsOf(events: SourceEvent[], resource: string): SourceEvent[] {
  const ofResource = events.filter((e) => e.resource === resource);
  const creates = ofResource.filter((e) => e.op === 'create');
  return ofResource.filter((e) => e.op === 'renew' || (e.op === 'create' && e !== creates[0]));
}

const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - (times[i] as number));

/** Starts the keeper for connector 7 on the fake source and waits, skipping time, until it ends. */
async function runKeeper(source: ReturnType<typeof fakeSource>, timing: Partial<PushKeeperTiming> = {}): Promise<PushKeeperResult> {
  return withWorker(env, source.activities, async (taskQueue) => {
    const handle = await env.client.workflow.start(PUSH_KEEPER_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: `push-keeper-renewals-${randomUUID().slice(0, 8)}`,
      args: [{ connectorId: 7, timing }],
    });
    // Awaiting the result lets the server jump from timer to timer until the keeper ends.
    return (await handle.result()) as PushKeeperResult;
  });
}

const TEAMS_AND_DRIVE: Watched[] = [
  { kind: 'channelMessages', resource: '/teams/t1/channels/general/messages' },
  { kind: 'channelMessages', resource: '/teams/t1/channels/design/messages' },
  { kind: 'driveItem', resource: '/drives/team-library/root' },
  { kind: 'driveChanges', resource: 'user' },
  { kind: 'driveChanges', resource: 'shared-drive-1' },
];

describe('the push keeper over weeks of skipped time, with the production lifetimes', () => {
  it('renews each Graph subscription and replaces each Drive channel once half its life is gone, never before and never lapsing', async () => {
    // Past two driveItem half-lives and eight Drive replacements, off any hour boundary.
    const deletedAt = (await env.currentTimeMs()) + 31 * DAY + 7 * MINUTE;
    const source = fakeSource(TEAMS_AND_DRIVE, deletedAt);
    // The routine look once a week only: every renewal below comes from the keeper's own next-check time.
    const result = await runKeeper(source, { recheckEveryMs: 7 * DAY });

    // Never a moment without a live subscription for a watched resource.
    expect(source.lapsed).toEqual([]);
    const firstCheck = source.checks[0] as number;
    for (const want of TEAMS_AND_DRIVE) {
      const halfLife = subscriptionLifetimeMs(want.kind) / 2;
      const renewals = renewalsOf(source.events, want.resource);
      // Each renewal comes once half the life is gone (not before) and promptly after.
      for (const gap of gaps([firstCheck, ...renewals.map((r) => r.at)])) {
        expect(gap, want.resource).toBeGreaterThanOrEqual(halfLife);
        expect(gap, want.resource).toBeLessThanOrEqual(halfLife + PROMPT);
      }
      expect(renewals.length, want.resource).toBe(Math.floor((deletedAt - firstCheck) / halfLife));
    }
    // In numbers: channel messages every 36 h, the library every 14.7 days, Drive channels every 3.5 days.
    expect(renewalsOf(source.events, '/teams/t1/channels/general/messages')).toHaveLength(20);
    expect(renewalsOf(source.events, '/drives/team-library/root')).toHaveLength(2);
    expect(renewalsOf(source.events, 'user')).toHaveLength(8);

    // A Drive channel is replaced, not renewed: the new one opens, then the old one stops, before it expires.
    for (const resource of ['user', 'shared-drive-1']) {
      const ofResource = source.events.filter((e) => e.resource === resource && e.at < deletedAt);
      expect(ofResource.some((e) => e.op === 'renew')).toBe(false);
      const stops = ofResource.flatMap((e, i) => (e.op === 'stop' ? [{ stop: e, opened: ofResource[i - 1] }] : []));
      expect(stops).toHaveLength(8);
      for (const { stop, opened } of stops) {
        expect(opened).toMatchObject({ op: 'create', at: stop.at });
        expect(stop.at).toBeLessThan(stop.expiresAt);
      }
    }

    // A pass when subscribed, then one a day: the renewals ask for none.
    expect(source.passes[0]?.reason).toBe('new push subscriptions');
    expect((source.passes[0]?.at ?? 0) - firstCheck).toBeLessThan(PROMPT);
    expect(source.passes.slice(1).every((p) => p.reason === 'daily pass')).toBe(true);
    for (const gap of gaps(source.passes.map((p) => p.at))) {
      expect(gap).toBeGreaterThanOrEqual(DAY);
      expect(gap).toBeLessThanOrEqual(DAY + PROMPT);
    }
    expect(source.passes).toHaveLength(32);
    expect(result.reason).toBe('connector 7 was deleted');
  }, 120_000);

  it('with the production timing it looks every 15 minutes without renewing early, and removes everything within 15 minutes of the connector being deleted', async () => {
    const deletedAt = (await env.currentTimeMs()) + 2 * DAY + 7 * MINUTE;
    const source = fakeSource(TEAMS_AND_DRIVE, deletedAt);
    const result = await runKeeper(source);

    expect(source.lapsed).toEqual([]);
    const firstCheck = source.checks[0] as number;
    expect(Math.max(...gaps(source.checks))).toBeLessThanOrEqual(DEFAULT_PUSH_KEEPER_TIMING.recheckEveryMs + PROMPT);
    expect(source.checks.length).toBeGreaterThan((2 * DAY) / DEFAULT_PUSH_KEEPER_TIMING.recheckEveryMs);
    // Nearly 200 looks, and still each channel renewed once, at 36 h; nothing else renewed yet.
    for (const want of TEAMS_AND_DRIVE) {
      const renewals = renewalsOf(source.events, want.resource);
      if (want.kind !== 'channelMessages') {
        expect(renewals, want.resource).toEqual([]);
        continue;
      }
      expect(renewals).toHaveLength(1);
      expect((renewals[0]?.at ?? 0) - firstCheck).toBeGreaterThanOrEqual(36 * HOUR);
      expect((renewals[0]?.at ?? 0) - firstCheck).toBeLessThanOrEqual(36 * HOUR + PROMPT);
    }

    // Deleted: the next look, within 15 minutes, stops every subscription and the keeper ends, saying why.
    const lastCheck = source.checks.at(-1) as number;
    expect(lastCheck).toBeGreaterThanOrEqual(deletedAt);
    expect(lastCheck - deletedAt).toBeLessThanOrEqual(DEFAULT_PUSH_KEEPER_TIMING.recheckEveryMs);
    expect(source.live.size).toBe(0);
    const stopped = source.events.filter((e) => e.op === 'stop' && e.at === lastCheck).map((e) => e.resource);
    expect(stopped.sort()).toEqual(TEAMS_AND_DRIVE.map((w) => w.resource).sort());
    expect(result).toEqual({ connectorId: 7, reason: 'connector 7 was deleted', removed: TEAMS_AND_DRIVE.length });
  }, 120_000);
});
