import { condition, continueAsNew, log, proxyActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { SyncActivities } from '../activities/index.js';
import { profiles } from './activity-options.js';
import {
  checkSubscriptionsSignal,
  DEFAULT_PUSH_KEEPER_TIMING,
  type KeepSubscriptionsResult,
  type LifecycleEvent,
  type PushKeeperInput,
  type PushKeeperResult,
  type PushKeeperTiming,
} from './definitions.js';

const db = proxyActivities<SyncActivities>(profiles.databaseStep);
const source = proxyActivities<SyncActivities>(profiles.listing);

/**
 * One per push connector (`push-keeper-<id>`): creates its subscriptions at the
 * source, renews them before they expire (Drive channels are replaced), acts on
 * Graph's lifecycle events, asks for a sync pass when a notification may have
 * been lost and at least once a day, and removes the subscriptions and ends when
 * the connector is disabled, deleted or no longer push. Secrets never pass
 * through here: the activities make them and keep only their digest.
 * Deterministic code only.
 */
export async function keepPushSubscriptions(input: PushKeeperInput): Promise<PushKeeperResult> {
  const timing: PushKeeperTiming = { ...DEFAULT_PUSH_KEEPER_TIMING, ...input.timing };
  const { connectorId } = input;
  const pending: LifecycleEvent[] = [...(input.pending ?? [])];
  let checkAsked = false;
  setHandler(checkSubscriptionsSignal, (request) => {
    if (request?.lifecycle) pending.push(request.lifecycle);
    checkAsked = true;
  });
  let lastPassAt = input.lastPassAt ? Date.parse(input.lastPassAt) : Date.now();

  for (;;) {
    checkAsked = false;
    const lifecycle = pending.splice(0);
    const kept = await source.keepSubscriptions.executeWithOptions(
      { ...profiles.listing, summary: `keep the push subscriptions of connector ${connectorId}${lifecycle.length ? ` (${lifecycle.map((e) => e.event).join(', ')})` : ''}` },
      [{ connectorId, lifecycle, ...(timing.lifetimeMs ? { lifetimeMs: timing.lifetimeMs } : {}) }],
    );
    if (kept.kind === 'stopped') {
      setCurrentDetails(`**Stopped:** ${kept.reason}; ${kept.removed} subscription(s) removed`);
      return { connectorId, reason: kept.reason, removed: kept.removed };
    }
    const passDue = Date.now() - lastPassAt >= timing.passEveryMs;
    const why = kept.syncNeeded ?? (passDue ? 'daily pass' : undefined);
    if (why) {
      await db.requestPushSync.executeWithOptions({ ...profiles.databaseStep, summary: `ask for a sync pass of connector ${connectorId}: ${why}` }, [
        { connectorId, reason: why },
      ]);
      lastPassAt = Date.now();
    }
    const wakeAt = nextWake(kept, lastPassAt, timing);
    setCurrentDetails(describeKeeper(kept, lastPassAt, wakeAt));
    await condition(() => checkAsked || pending.length > 0, Math.max(1000, wakeAt - Date.now()));
    const info = workflowInfo();
    // The new run checks first thing: a check asked for and lifecycle events not yet served go along.
    if (info.continueAsNewSuggested || info.historyLength > timing.maxHistoryEvents) {
      log.info('push keeper continuing as new to keep history small', { connectorId, historyLength: info.historyLength });
      await continueAsNew<typeof keepPushSubscriptions>({ ...input, lastPassAt: new Date(lastPassAt).toISOString(), pending: pending.splice(0) });
    }
  }
}

/** The earliest of: the next renewal, the next pass, the next routine check. */
function nextWake(kept: Extract<KeepSubscriptionsResult, { kind: 'kept' }>, lastPassAt: number, timing: PushKeeperTiming): number {
  const candidates = [Date.now() + timing.recheckEveryMs, lastPassAt + timing.passEveryMs];
  if (kept.nextCheckAt) candidates.push(Date.parse(kept.nextCheckAt));
  return Math.min(...candidates);
}

function describeKeeper(kept: Extract<KeepSubscriptionsResult, { kind: 'kept' }>, lastPassAt: number, wakeAt: number): string {
  const at = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return [
    `**Subscriptions:** ${kept.active} active (last check: ${kept.created} created, ${kept.renewed} renewed, ${kept.removed} removed, ${kept.failed} failed)`,
    `**Last pass asked:** ${at(lastPassAt)}`,
    `**Next check:** ${at(wakeAt)}`,
  ].join('  \n');
}
