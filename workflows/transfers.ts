import { ActivityFailure, ApplicationFailure, isCancellation, patched, proxyActivities, uuid4, type ActivityInterfaceFor } from '@temporalio/workflow';
import type { SyncActivities } from '../activities/index.js';
import {
  DEFAULT_TRANSFER_TUNING,
  FAILURE,
  type BatchOutcome,
  type ItemFailure,
  type ItemSettlement,
  type PlannedItem,
  type TransferOutcome,
  type TransferTuning,
} from './definitions.js';
import { profiles } from './activity-options.js';
import { reasonOf, SyncFailure } from './failure-messages.js';
import { countOutcome, type SyncRun } from './sync-run.js';
import { formatBytes } from './run-details.js';
import { taskPriority } from './task-priority.js';

/**
 * The transfer step of a page: every planned file is transferred, and each
 * ends as a value (new, updated, unchanged, gone, failed). Small files travel
 * in batches (one activity each), large ones alone; a file a batch could not
 * finish goes alone through transferFile. A file whose transfer still fails
 * after its retries becomes a recorded failure and the sync goes on; an outage
 * of our own dependencies ends the sync instead.
 */

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

async function transferOne(run: SyncRun, activities: Proxied, item: PlannedItem, transferId: string): Promise<Attempt> {
  run.inFlight++;
  try {
    // The activity's summary in the Web UI names the file it moves.
    const summary = `transfer "${item.name}"${item.size !== undefined ? ` (${formatBytes(item.size)})` : ''}`;
    const outcome = await activities.transferFile.executeWithOptions({ ...profiles.transfer(run.input.transferAttempts), ...taskPriority(run.carry), summary }, [
      {
        connectorId: run.connectorId,
        item,
        transferId,
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

/** The file a batch's failure names (details[0].file), quoted. */
function fileNamedIn(e: unknown): string | undefined {
  const cause = e instanceof ActivityFailure ? e.cause : e;
  const file = cause instanceof ApplicationFailure ? (cause.details?.[0] as { file?: unknown } | undefined)?.file : undefined;
  return typeof file === 'string' ? `"${file}"` : undefined;
}

type Proxied = ActivityInterfaceFor<SyncActivities>;

/** Marks runs that batch by the current default of 100 files (half the history events and activities per page of 50). */
const BATCHES_OF_100 = 'batches-of-100-files';

type Unit = { kind: 'alone'; item: PlannedItem } | { kind: 'batch'; items: PlannedItem[] };

/** Small files in batches of at most filesPerBatch files and bytesPerBatch bytes; large ones alone. */
export function planUnits(items: PlannedItem[], tuning: TransferTuning): Unit[] {
  const units: Unit[] = [];
  let batch: PlannedItem[] = [];
  let bytes = 0;
  const close = () => {
    if (batch.length > 0) units.push({ kind: 'batch', items: batch });
    batch = [];
    bytes = 0;
  };
  for (const item of items) {
    if (item.size !== undefined && item.size > tuning.largeFileBytes) {
      units.push({ kind: 'alone', item });
      continue;
    }
    const size = item.size ?? Math.floor(tuning.largeFileBytes / 8);
    if (batch.length >= tuning.filesPerBatch || (batch.length > 0 && bytes + size > tuning.bytesPerBatch)) close();
    batch.push(item);
    bytes += size;
  }
  close();
  return units;
}

function batchSummary(page: number, items: PlannedItem[]): string {
  const first = items[0]?.name ?? '';
  const last = items.length > 1 ? ` … ${items[items.length - 1]?.name ?? ''}` : '';
  return `page ${page}: ${items.length} file${items.length === 1 ? '' : 's'} (${first}${last})`.slice(0, 200);
}

/** A batch; files it hands back (and every file of a batch that failed as a whole) go alone. */
async function transferBatch(run: SyncRun, activities: Proxied, items: PlannedItem[], attempts: number | undefined, transferId: string): Promise<Attempt[]> {
  const page = run.carry.totals.pages;
  run.inFlight += items.length;
  let outcomes: BatchOutcome[] | undefined;
  try {
    outcomes = await activities.transferBatch.executeWithOptions(
      { ...profiles.transfer(attempts), ...taskPriority(run.carry), summary: batchSummary(page, items) },
      [{ connectorId: run.connectorId, items, page, transferId, ...(run.chunkingSession ? { chunkingSession: run.chunkingSession } : {}) }],
    );
  } catch (e) {
    if (isCancellation(e)) throw e;
    if (blameOf(e) === 'sync') throw new SyncFailure(`while storing ${fileNamedIn(e) ?? `a batch of ${items.length} files`} (page ${page})`, e);
  } finally {
    run.inFlight -= items.length;
  }
  const results: Attempt[] = [];
  for (const [i, item] of items.entries()) {
    const outcome = outcomes?.[i];
    if (outcome && outcome.result !== 'retry') results.push({ item, outcome });
    else results.push(await transferOne(run, activities, item, transferId));
  }
  return results;
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
  // Runs recorded when batches held 50 files replay with 50 (they lack this marker).
  const defaults = patched(BATCHES_OF_100) ? DEFAULT_TRANSFER_TUNING : { ...DEFAULT_TRANSFER_TUNING, filesPerBatch: 50 };
  const tuning = { ...defaults, ...run.input.tuning };
  const attemptsPerFile = run.input.transferAttempts;
  const activities = proxyActivities<SyncActivities>(profiles.transfer(attemptsPerFile));
  const units = planUnits(items, tuning);
  // One id for this transfer step, stored with every version it makes: its retries tell their own earlier work from a second sighting.
  const transferId = uuid4();
  const perUnit = await mapLimited(units, tuning.inFlight, (unit) =>
    unit.kind === 'batch'
      ? transferBatch(run, activities, unit.items, attemptsPerFile, transferId)
      : transferOne(run, activities, unit.item, transferId).then((a) => [a]),
  );
  const attempts = perUnit.flat();
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
    if (outcome.result === 'failed') {
      failed.push({ sourceId: item.sourceId, name: item.name, reason: outcome.reason ?? 'failed', ...(outcome.code ? { code: outcome.code } : {}), item });
    } else cleared.push(item.sourceId);
  }
  return { failed, cleared };
}
