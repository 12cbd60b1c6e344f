import { ActivityFailure, ApplicationFailure, isCancellation, proxyActivities, type ActivityInterfaceFor, type ActivityOptions } from '@temporalio/workflow';
import type { SyncActivities } from '../activities/index.js';
import { FAILURE, type ItemFailure, type ItemSettlement, type PlannedItem, type TransferOutcome } from './definitions.js';
import { profiles } from './activity-options.js';
import { reasonOf, SyncFailure } from './failure-messages.js';
import { countOutcome, type SyncRun } from './sync-run.js';
import { formatBytes } from './run-details.js';

/**
 * The transfer step of a page: every planned file is transferred, and each
 * ends as a value (new, updated, unchanged, gone, failed). A file whose
 * transfer still fails after its retries becomes a recorded failure and the
 * sync goes on; an outage of our own dependencies ends the sync instead.
 */

const TRANSFER_CONCURRENCY = 8;

/** Runs `work` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** What a transfer's thrown failure means: the whole sync, this item, or this item only if others get through. */
type Blame = 'sync' | 'item' | 'item-if-others-succeed';

function blameOf(e: unknown): Blame {
  const cause = e instanceof ActivityFailure ? e.cause : e;
  if (!(cause instanceof ApplicationFailure)) return 'item-if-others-succeed';
  switch (cause.type) {
    case FAILURE.dependencyUnavailable:
    case FAILURE.sourceUnreachable:
    case FAILURE.connectorNotFound:
      return 'sync';
    case FAILURE.sourcePermanent:
      return (cause.details?.[0] as { scope?: string } | undefined)?.scope === 'sync' ? 'sync' : 'item';
    case FAILURE.sourceItemError:
    case FAILURE.throttled:
      return 'item';
    default:
      return 'item-if-others-succeed';
  }
}

interface Attempt {
  item: PlannedItem;
  outcome: TransferOutcome;
  /** Set when the outcome is a failure only because the other files got through. */
  doubtful?: unknown;
}

async function transferOne(run: SyncRun, activities: ActivityInterfaceFor<SyncActivities>, options: ActivityOptions, item: PlannedItem): Promise<Attempt> {
  run.inFlight++;
  try {
    // The activity's summary in the Web UI names the file it moves.
    const summary = `transfer "${item.name}"${item.size !== undefined ? ` (${formatBytes(item.size)})` : ''}`;
    const outcome = await activities.transferFile.executeWithOptions({ ...options, summary }, [
      {
        connectorId: run.connectorId,
        item,
        ...(run.chunkingSession ? { chunkingSession: run.chunkingSession } : {}),
      },
    ]);
    return { item, outcome };
  } catch (e) {
    if (isCancellation(e)) throw e;
    const blame = blameOf(e);
    if (blame === 'sync') throw new SyncFailure(`while storing "${item.name}"`, e);
    const outcome: TransferOutcome = { sourceId: item.sourceId, result: 'failed', bytes: 0, reason: reasonOf(e) };
    return blame === 'item' ? { item, outcome } : { item, outcome, doubtful: e };
  } finally {
    run.inFlight--;
  }
}

function anythingStored(run: SyncRun, attempts: Attempt[]): boolean {
  const { totals } = run.carry;
  return totals.new + totals.updated > 0 || attempts.some((a) => a.outcome.result !== 'failed');
}

/**
 * Transfers `items` and counts their outcomes. Returns what the commit must
 * record: failures (with the item, for a later retry) and the files whose
 * failure record can go.
 */
export async function transferItems(
  run: SyncRun,
  items: PlannedItem[],
  options: { failedBefore?: boolean } = {},
): Promise<ItemSettlement> {
  const transferOptions = profiles.transfer(run.input.transferAttempts);
  const activities = proxyActivities<SyncActivities>(transferOptions);
  const attempts = await mapLimited(items, TRANSFER_CONCURRENCY, (item) => transferOne(run, activities, transferOptions, item));
  const doubtful = attempts.find((a) => a.doubtful !== undefined);
  // Files recorded as failed by an earlier sync were blamed on evidence then; a retry keeps the blame.
  if (doubtful && !options.failedBefore && !anythingStored(run, attempts)) {
    // No file got through: the pipeline itself is failing, not this file.
    throw new SyncFailure(`while storing "${doubtful.item.name}"`, doubtful.doubtful);
  }
  const failed: ItemFailure[] = [];
  const cleared: string[] = [];
  for (const { item, outcome } of attempts) {
    countOutcome(run, outcome, item.name);
    if (outcome.result === 'failed') failed.push({ sourceId: item.sourceId, name: item.name, reason: outcome.reason ?? 'failed', item });
    else cleared.push(item.sourceId);
  }
  return { failed, cleared };
}
