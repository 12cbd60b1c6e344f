import { condition, proxyActivities } from '@temporalio/workflow';
import type { SyncActivities } from '../activities/index.js';
import { profiles } from './activity-options.js';
import { sourceLabel, syncWorkflowId } from './definitions.js';
import type { SyncRun } from './sync-run.js';
import { taskPriority } from './task-priority.js';

/**
 * The steps the operator controls add to a sync (controls.ts names them):
 * pausing at a page boundary, a full resync taken up at the next page, and the
 * failed files an operator asked to retry. Deterministic code only.
 */

const db = proxyActivities<SyncActivities>(profiles.databaseStep);

/**
 * At a page boundary (the page's cursor is committed): if `pause` was asked,
 * mark the connector paused and wait for `resume` or `stop`. Returns once the
 * sync may go on (or must stop).
 */
export async function pauseIfAsked(run: SyncRun): Promise<void> {
  const reason = run.controls.pauseRequested;
  if (reason === undefined || run.stopRequested !== undefined) return;
  const { connectorId } = run;
  const page = run.carry.totals.pages;
  const message =
    `${sourceLabel(run.carry.connectorType)} sync paused after page ${page} (${reason}); cursor saved; ` +
    `resume with: temporal workflow signal --workflow-id ${syncWorkflowId(connectorId)} --name resume`;
  const before = run.phase;
  await db.pauseSync.executeWithOptions({ ...profiles.databaseStep, ...taskPriority(run.carry), summary: `mark connector ${connectorId} paused after page ${page}` }, [{ connectorId, message }]);
  // Paused (for `progress`, the details and whoever waits on them) only once the
  // connector's row says so: a query between the signal and this write must not
  // report a pause that the database does not show yet.
  run.controls.pausedAt = { page, since: new Date().toISOString() };
  run.phase = 'paused'; // shows the pause in the run's details
  await condition(() => run.controls.pauseRequested === undefined || run.stopRequested !== undefined);
  delete run.controls.pausedAt;
  if (run.stopRequested !== undefined) return;
  await db.resumeSync.executeWithOptions({ ...profiles.databaseStep, ...taskPriority(run.carry), summary: `mark connector ${connectorId} syncing again` }, [{ connectorId }]);
  run.phase = before;
}

/** A `fullResync` asked since the last page: the next listing starts from scratch. */
export function takeFullResync(run: SyncRun): boolean {
  if (!run.controls.fullResyncRequested) return false;
  run.controls.fullResyncRequested = false;
  return true;
}

/**
 * A `retryFailed` asked since the last check: makes those recorded failures due
 * now, so the retry step fetches them whatever their delay. Returns whether
 * there was a request.
 */
export async function takeRetryRequest(run: SyncRun): Promise<boolean> {
  const asked = run.controls.retryFailedRequested;
  if (!asked) return false;
  delete run.controls.retryFailedRequested;
  const { connectorId } = run;
  const which = asked === 'all' ? 'every failed file' : `${asked.length} failed file(s)`;
  await db.makeFailedItemsDue.executeWithOptions({ ...profiles.databaseStep, ...taskPriority(run.carry), summary: `make ${which} of connector ${connectorId} due for retry` }, [
    { connectorId, ...(asked === 'all' ? {} : { sourceIds: asked }) },
  ]);
  return true;
}
