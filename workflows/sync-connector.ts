import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ConnectorIdKey, ConnectorTypeKey, SyncTriggerKey } from '../src/telemetry/search-attributes.js';
import type { SyncActivities } from '../activities/index.js';
import type { PageCommit } from '../activities/commit-page.js';
import { profiles } from './activity-options.js';
import { FAILURE, sourceLabel, type ListedPage, type SyncConnectorInput, type SyncResult } from './definitions.js';
import { SyncFailure, syncFailureMessage } from './failure-messages.js';
import { beginExtraPass, beginFirstPass, countSkip, extraPassNeeded, recordFailure, startRun, type SyncRun } from './sync-run.js';
import { transferItems } from './transfers.js';
import { pauseIfAsked, takeFullResync, takeRetryRequest } from './control-steps.js';
import { addThrottle, runTitle, throttleOf } from './run-details.js';
import { taskPriority } from './task-priority.js';

const db = proxyActivities<SyncActivities>(profiles.databaseStep);
const source = proxyActivities<SyncActivities>(profiles.listing);
const local = proxyLocalActivities<SyncActivities>(profiles.localDatabaseStep);

const DEFAULT_MAX_HISTORY_EVENTS = 10_000;
/**
 * Runs recorded before a run continued ahead of its limit (it then continued only once past it)
 * replay without this marker, and keep their old decision.
 */
const CONTINUE_BEFORE_LIMIT = 'continue-before-history-limit';
/** Recorded failures retried per sync (the rest wait for the next one). */
const RETRIES_PER_SYNC = 100;
/** Runs recorded before a page's commit ran as a local activity replay without this marker, and commit through the task queue. */
const LOCAL_COMMIT = 'commit-page-local-activity';
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
    if (input.retryFailedOnly && !input.carry) {
      // The retryFailed control alone: no listing, every recorded failure fetched again.
      run.controls.retryFailedRequested = 'all';
    } else if ((await syncUntilCaughtUp(run)) === 'stopped') {
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
  const begin = await db.beginSync.executeWithOptions({ ...profiles.databaseStep, summary: `check connector ${connectorId} and mark it syncing` }, [
    { connectorId, ...(input.expectedType ? { expectedType: input.expectedType } : {}) },
  ]);
  if (begin.kind === 'run') {
    const trigger = workflowInfo().typedSearchAttributes.get(SyncTriggerKey);
    run.carry.connectorType = begin.connectorType;
    // A run started without the bridge's or the README's attributes was started by hand.
    run.carry.trigger = trigger ?? 'manual';
    run.carry.title = runTitle(connectorId, begin.connectorType, begin.connector?.name);
    if (begin.priority) run.carry.priority = begin.priority;
    upsertSearchAttributes({ ConnectorId: [connectorId], ConnectorType: [begin.connectorType], ...(trigger ? {} : { SyncTrigger: ['manual'] }) });
    run.phase = 'starting';
    return undefined;
  }
  if (begin.kind === 'skip') log.info('sync skipped', { connectorId, reason: begin.reason });
  run.phase = 'done';
  return { outcome: begin.kind === 'skip' ? 'skipped' : 'rejected', connectorId, message: begin.reason, totals: run.carry.totals };
}

/** Pages until the source says "caught up" and no request asks for another pass, or a stop is requested. */
async function syncUntilCaughtUp(run: SyncRun): Promise<'caught-up' | 'stopped'> {
  let restart = run.input.fullResync === true && !run.input.carry;
  /** The most history events one page of this run has taken: the room the next page needs. */
  let largestPage = 0;
  for (;;) {
    const before = workflowInfo().historyLength;
    // A fullResync control asked during the previous page starts the enumeration over here.
    const hasMore = await syncOnePage(run, takeFullResync(run) || restart);
    largestPage = Math.max(largestPage, workflowInfo().historyLength - before);
    restart = false;
    if (!hasMore) {
      if (!extraPassNeeded(run) && !run.controls.fullResyncRequested) return 'caught-up';
      beginExtraPass(run);
    }
    if (run.stopRequested) return 'stopped';
    await pauseIfAsked(run);
    if (run.stopRequested) return 'stopped';
    await continueIfHistoryLong(run, largestPage);
  }
}

/** List one page, transfer what changed, then commit: the cursor moves only once the page is durable. */
async function syncOnePage(run: SyncRun, restart: boolean): Promise<boolean> {
  const { connectorId } = run;
  const pageNumber = run.carry.totals.pages + 1;
  run.phase = 'listing';
  const page = await source.planPage
    .executeWithOptions({ ...profiles.listing, ...taskPriority(run.carry), summary: `list ${restart ? 'everything (full resync), ' : 'changes, '}page ${pageNumber}` }, [{ connectorId, restart }])
    .catch((e: unknown) => {
      throw isCancellation(e) ? e : new SyncFailure('while listing changes', e);
    });
  countPlanned(run, page);
  addThrottle(run.carry, throttleOf(page));
  run.phase = 'transferring';
  const settled = await transferItems(run, page.transfers);
  run.phase = 'committing';
  const commit: PageCommit = {
    connectorId,
    state: page.cursor,
    ...(page.sweepGeneration ? { sweepGeneration: page.sweepGeneration } : {}),
    ...(page.sweepGeneration && page.sweepOnly ? { sweepOnly: page.sweepOnly } : {}),
    failed: [...page.failed, ...settled.failed],
    cleared: settled.cleared,
  };
  const summary = `save page ${pageNumber}: ${page.transfers.length} file(s) moved, cursor${page.sweepGeneration ? ', sweep of what is gone' : ''}`;
  // A commit is one short transaction: a local activity (one history event instead of six, no
  // dispatch). The sweep after an enumeration deletes batch after batch for as long as there is
  // to delete: that commit goes through the task queue, with the sync's task priority.
  const { swept, priority } =
    !page.sweepGeneration && patched(LOCAL_COMMIT)
      ? await local.commitPage.executeWithOptions({ ...profiles.localDatabaseStep, summary }, [commit])
      : await db.commitPage.executeWithOptions({ ...profiles.databaseStep, ...taskPriority(run.carry), summary }, [commit]);
  run.carry.totals.deleted += swept;
  if (priority) run.carry.priority = priority;
  return page.hasMore;
}

function countPlanned(run: SyncRun, page: ListedPage): void {
  const { totals } = run.carry;
  totals.pages++;
  totals.unchanged += page.unchanged;
  totals.renamed += page.renamed;
  totals.deleted += page.deleted;
  if (page.resynced) totals.resyncs++;
  if (page.relisted) totals.relisted = (totals.relisted ?? 0) + page.relisted;
  if (page.scheduledEnumeration) totals.scheduledEnumerations = (totals.scheduledEnumerations ?? 0) + 1;
  for (const skip of page.skipped) countSkip(run, skip.reason);
  for (const failure of page.failed) recordFailure(run, { sourceId: failure.sourceId, ...(failure.name ? { name: failure.name } : {}), reason: failure.reason });
}

/**
 * A new run once Temporal suggests it, or before history would pass the limit: when another page
 * as large as the largest so far, plus a twentieth of the limit for the run's last steps (retries
 * of recorded failures, the final status), would not fit. Totals and a pending request go along.
 */
async function continueIfHistoryLong(run: SyncRun, largestPage: number): Promise<void> {
  const info = workflowInfo();
  const limit = run.input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const past = info.continueAsNewSuggested || info.historyLength > limit;
  const nextPageWouldPass = info.historyLength + largestPage + Math.ceil(limit / 20) > limit;
  if (!past && !(nextPageWouldPass && patched(CONTINUE_BEFORE_LIMIT))) return;
  log.info('continuing as new to keep history small', { connectorId: run.connectorId, historyLength: info.historyLength });
  run.carry.extraPass = extraPassNeeded(run);
  run.carry.fullResyncPending = run.controls.fullResyncRequested;
  const next: SyncConnectorInput = { ...run.input, carry: run.carry, ...(run.chunkingSession ? { chunkingSession: run.chunkingSession } : {}) };
  delete next.fullResync;
  await continueAsContinued(next, run.controls.retryFailedRequested !== undefined);
}

/**
 * A continued run says so: `SyncTrigger = "continued"`, the same ConnectorId and
 * ConnectorType. Temporal 1.24's continueAsNew takes no static summary or details
 * (and the server does not copy the first run's), so the continued run's current
 * details carry the title and say which run of the sync it is (run-details.ts).
 * A retryFailed request not yet served goes along as a signal to itself: the
 * next run asks again.
 */
async function continueAsContinued(next: SyncConnectorInput, retryPending: boolean): Promise<never> {
  const current = workflowInfo().typedSearchAttributes;
  const connectorId = current.get(ConnectorIdKey) ?? next.connectorId;
  const connectorType = current.get(ConnectorTypeKey) ?? next.carry?.connectorType;
  const typedSearchAttributes = [
    { key: ConnectorIdKey, value: connectorId },
    ...(connectorType ? [{ key: ConnectorTypeKey, value: connectorType }] : []),
    { key: SyncTriggerKey, value: 'continued' },
  ];
  if (retryPending) next.retryFailedPending = true;
  return makeContinueAsNewFunc<typeof syncConnector>({ typedSearchAttributes })(next);
}

/**
 * Files recorded as failed by earlier syncs whose retry is due: tried again even
 * if the source reports no change. One batch per sync; when an operator asked
 * (retryFailed), every due file, batch after batch, and again for a request that
 * arrives meanwhile.
 */
async function retryRecordedFailures(run: SyncRun): Promise<void> {
  const { connectorId } = run;
  let asked = (await takeRetryRequest(run)) || run.input.retryFailedPending === true;
  for (;;) {
    const due = await db.dueFailedItems.executeWithOptions({ ...profiles.databaseStep, ...taskPriority(run.carry), summary: `read the failed files of connector ${connectorId} due for retry` }, [
      { connectorId, limit: RETRIES_PER_SYNC },
    ]);
    if (due.length > 0) {
      run.phase = 'retrying failed files';
      const settled = await transferItems(run, due, { failedBefore: true });
      await db.settleFailedItems.executeWithOptions(
        { ...profiles.databaseStep, ...taskPriority(run.carry), summary: `record the retry of ${due.length} failed file(s): ${settled.cleared.length} stored or gone, ${settled.failed.length} failed again` },
        [{ connectorId, ...settled }],
      );
    }
    const more = await takeRetryRequest(run);
    if (!more && !(asked && due.length === RETRIES_PER_SYNC)) return;
    asked ||= more;
  }
}

/** `active` with the summary; a request that arrived while finishing starts a fresh run. */
async function finishSynced(run: SyncRun): Promise<SyncResult> {
  const { connectorId, carry } = run;
  run.phase = 'finishing';
  const { summary } = await db.finishSync.executeWithOptions({ ...profiles.databaseStep, ...taskPriority(carry), summary: `mark connector ${connectorId} active with the summary` }, [
    { connectorId, totals: carry.totals, skippedReasons: carry.skippedReasons },
  ]);
  run.phase = 'done';
  // A request or control that arrived while finishing starts a fresh sync at once.
  const fullResync = run.controls.fullResyncRequested;
  const retryPending = run.controls.retryFailedRequested !== undefined;
  if (extraPassNeeded(run) || fullResync || retryPending) {
    return await continueAsContinued(
      {
        connectorId,
        ...(run.chunkingSession ? { chunkingSession: run.chunkingSession } : {}),
        ...(run.input.expectedType ? { expectedType: run.input.expectedType } : {}),
        ...(run.input.transferAttempts ? { transferAttempts: run.input.transferAttempts } : {}),
        ...(fullResync ? { fullResync: true } : {}),
      },
      retryPending,
    );
  }
  return { outcome: 'synced', connectorId, message: summary, totals: carry.totals };
}

/** `error` with the message, written even while the run is being cancelled. */
async function endInError(run: SyncRun, message: string, outcome: 'failed' | 'cancelled'): Promise<SyncResult> {
  run.phase = 'finishing';
  await CancellationScope.nonCancellable(() =>
    db.failSync.executeWithOptions({ ...profiles.databaseStep, ...taskPriority(run.carry), summary: `mark connector ${run.connectorId} error: ${message.slice(0, 80)}` }, [
      { connectorId: run.connectorId, message },
    ]),
  );
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
