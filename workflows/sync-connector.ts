import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SyncActivities } from '../activities/index.js';
import { profiles } from './activity-options.js';
import { FAILURE, sourceLabel, type ListedPage, type SyncConnectorInput, type SyncResult } from './definitions.js';
import { SyncFailure, syncFailureMessage } from './failure-messages.js';
import { beginExtraPass, beginFirstPass, countSkip, extraPassNeeded, recordFailure, startRun, type SyncRun } from './sync-run.js';
import { transferItems } from './transfers.js';

const db = proxyActivities<SyncActivities>(profiles.databaseStep);
const source = proxyActivities<SyncActivities>(profiles.listing);

const DEFAULT_MAX_HISTORY_EVENTS = 10_000;
/** Recorded failures retried per sync (the rest wait for the next one). */
const RETRIES_PER_SYNC = 100;
const RESUMES = 'the next sync resumes from the last saved page';

/**
 * One sync of one connector: page by page, list changes, store what changed,
 * and save the cursor only once the page is durable. Always ends the connector
 * in a terminal status.
 */
export async function syncConnector(input: SyncConnectorInput): Promise<SyncResult> {
  const run = startRun(input);
  try {
    const early = input.carry ? undefined : await beginOrSkip(run);
    if (early) return early;
    beginFirstPass(run);
    if ((await syncUntilCaughtUp(run)) === 'stopped') {
      return await endInError(run, `${run.stopRequested ?? 'stopped'}; ${RESUMES}`, 'cancelled');
    }
    await retryRecordedFailures(run);
    return await finishSynced(run);
  } catch (e) {
    return await failRun(run, e);
  }
}

/** beginSync: a missing, deleted, disabled or mismatched connector ends the run here. */
async function beginOrSkip(run: SyncRun): Promise<SyncResult | undefined> {
  const { connectorId, input } = run;
  const begin = await db.beginSync({ connectorId, ...(input.expectedType ? { expectedType: input.expectedType } : {}) });
  if (begin.kind === 'run') {
    run.carry.connectorType = begin.connectorType;
    upsertSearchAttributes({ ConnectorId: [connectorId], ConnectorType: [begin.connectorType] });
    return undefined;
  }
  if (begin.kind === 'skip') log.info('sync skipped', { connectorId, reason: begin.reason });
  run.phase = 'done';
  return { outcome: begin.kind === 'skip' ? 'skipped' : 'rejected', connectorId, message: begin.reason, totals: run.carry.totals };
}

/** Pages until the source says "caught up" and no request asks for another pass, or a stop is requested. */
async function syncUntilCaughtUp(run: SyncRun): Promise<'caught-up' | 'stopped'> {
  let restart = run.input.fullResync === true && !run.input.carry;
  for (;;) {
    const hasMore = await syncOnePage(run, restart);
    restart = false;
    if (!hasMore) {
      if (!extraPassNeeded(run)) return 'caught-up';
      beginExtraPass(run);
    }
    if (run.stopRequested) return 'stopped';
    await continueIfHistoryLong(run);
  }
}

/** List one page, transfer what changed, then commit: the cursor moves only once the page is durable. */
async function syncOnePage(run: SyncRun, restart: boolean): Promise<boolean> {
  const { connectorId } = run;
  run.phase = 'listing';
  const page = await source.planPage({ connectorId, restart }).catch((e: unknown) => {
    throw isCancellation(e) ? e : new SyncFailure('while listing changes', e);
  });
  countPlanned(run, page);
  run.phase = 'transferring';
  const settled = await transferItems(run, page.transfers);
  run.phase = 'committing';
  const { swept } = await db.commitPage({
    connectorId,
    state: page.cursor,
    ...(page.sweepGeneration ? { sweepGeneration: page.sweepGeneration } : {}),
    failed: [...page.failed, ...settled.failed],
    cleared: settled.cleared,
  });
  run.carry.totals.deleted += swept;
  return page.hasMore;
}

function countPlanned(run: SyncRun, page: ListedPage): void {
  const { totals } = run.carry;
  totals.pages++;
  totals.unchanged += page.unchanged;
  totals.renamed += page.renamed;
  totals.deleted += page.deleted;
  if (page.resynced) totals.resyncs++;
  for (const skip of page.skipped) countSkip(run, skip.reason);
  for (const failure of page.failed) recordFailure(run, { sourceId: failure.sourceId, ...(failure.name ? { name: failure.name } : {}), reason: failure.reason });
}

/** A new run once Temporal suggests it or history passes the limit; totals and a pending request go along. */
async function continueIfHistoryLong(run: SyncRun): Promise<void> {
  const info = workflowInfo();
  const limit = run.input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  if (!info.continueAsNewSuggested && info.historyLength <= limit) return;
  log.info('continuing as new to keep history small', { connectorId: run.connectorId, historyLength: info.historyLength });
  run.carry.extraPass = extraPassNeeded(run);
  const next: SyncConnectorInput = { ...run.input, carry: run.carry, ...(run.chunkingSession ? { chunkingSession: run.chunkingSession } : {}) };
  delete next.fullResync;
  await continueAsNew<typeof syncConnector>(next);
}

/** Files recorded as failed by earlier syncs whose retry is due: tried again even if the source reports no change. */
async function retryRecordedFailures(run: SyncRun): Promise<void> {
  const due = await db.dueFailedItems({ connectorId: run.connectorId, limit: RETRIES_PER_SYNC });
  if (due.length === 0) return;
  run.phase = 'retrying failed files';
  const settled = await transferItems(run, due, { failedBefore: true });
  await db.settleFailedItems({ connectorId: run.connectorId, ...settled });
}

/** `active` with the summary; a request that arrived while finishing starts a fresh run. */
async function finishSynced(run: SyncRun): Promise<SyncResult> {
  const { connectorId, carry } = run;
  run.phase = 'finishing';
  const { summary } = await db.finishSync({ connectorId, totals: carry.totals, skippedReasons: carry.skippedReasons });
  run.phase = 'done';
  if (extraPassNeeded(run)) {
    return await continueAsNew<typeof syncConnector>({
      connectorId,
      ...(run.chunkingSession ? { chunkingSession: run.chunkingSession } : {}),
      ...(run.input.expectedType ? { expectedType: run.input.expectedType } : {}),
      ...(run.input.transferAttempts ? { transferAttempts: run.input.transferAttempts } : {}),
    });
  }
  return { outcome: 'synced', connectorId, message: summary, totals: carry.totals };
}

/** `error` with the message, written even while the run is being cancelled. */
async function endInError(run: SyncRun, message: string, outcome: 'failed' | 'cancelled'): Promise<SyncResult> {
  run.phase = 'finishing';
  await CancellationScope.nonCancellable(() => db.failSync({ connectorId: run.connectorId, message }));
  run.phase = 'done';
  return { outcome, connectorId: run.connectorId, message, totals: run.carry.totals };
}

/** Every failure ends the connector in `error` (a missing row excepted: there is nothing to write to). */
async function failRun(run: SyncRun, e: unknown): Promise<never> {
  if (e instanceof ContinueAsNew) throw e;
  if (isCancellation(e)) {
    await endInError(run, `${sourceLabel(run.carry.connectorType)} sync cancelled by an operator; ${RESUMES}`, 'cancelled');
    throw e;
  }
  const inner = e instanceof SyncFailure ? e.failure : e;
  const failure = inner instanceof ActivityFailure ? inner.cause : inner;
  if (failure instanceof ApplicationFailure && failure.type === FAILURE.connectorNotFound) throw failure;
  const message = syncFailureMessage(run.carry.connectorType, e);
  await endInError(run, message, 'failed');
  // Fail the run too, so the Temporal UI shows it red with the same message.
  throw ApplicationFailure.create({ type: FAILURE.syncFailed, message, nonRetryable: true, details: [run.carry.totals] });
}
