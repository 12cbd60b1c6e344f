import { setHandler } from '@temporalio/workflow';
import {
  emptyTotals,
  failedItemsQuery,
  progressQuery,
  stopSignal,
  syncRequestedSignal,
  type FailedItem,
  type SyncCarry,
  type SyncConnectorInput,
  type SyncPhase,
  type SyncProgress,
  type TransferOutcome,
} from './definitions.js';

/**
 * The state of one run of syncConnector, and the handlers that read and steer
 * it (progress and failedItems queries, syncRequested and stop signals).
 * Deterministic code only.
 */

const MAX_FAILED_KEPT = 100;

export interface SyncRun {
  readonly input: SyncConnectorInput;
  readonly connectorId: number;
  /** Totals, failures and skip reasons: what continue-as-new carries to the next run. */
  readonly carry: SyncCarry;
  phase: SyncPhase;
  inFlight: number;
  stopRequested?: string;
  /** Sync requests received (signals), and how many of them the current pass covers. */
  requests: number;
  coveredRequests: number;
  chunkingSession?: string;
}

export function startRun(input: SyncConnectorInput): SyncRun {
  const carry: SyncCarry = input.carry ?? {
    totals: emptyTotals(),
    failedItems: [],
    skippedReasons: {},
    startedAt: new Date().toISOString(),
    runs: 0,
  };
  carry.runs++;
  const run: SyncRun = {
    input,
    connectorId: input.connectorId,
    carry,
    phase: 'starting',
    inFlight: 0,
    requests: 0,
    coveredRequests: 0,
    ...(input.chunkingSession ? { chunkingSession: input.chunkingSession } : {}),
  };
  answerQueriesAndSignals(run);
  return run;
}

/** progress and failedItems read the run; syncRequested and stop steer it. */
function answerQueriesAndSignals(run: SyncRun): void {
  const { carry } = run;
  setHandler(progressQuery, (): SyncProgress => ({
    connectorId: run.connectorId,
    phase: run.phase,
    totals: carry.totals,
    failedItems: carry.failedItems,
    skippedReasons: carry.skippedReasons,
    inFlight: run.inFlight,
    runs: carry.runs,
  }));
  setHandler(failedItemsQuery, () => carry.failedItems);
  setHandler(stopSignal, (reason) => {
    run.stopRequested = reason ?? 'stopped by an operator';
  });
  setHandler(syncRequestedSignal, (request) => {
    run.requests++;
    if (request?.chunkingSession) run.chunkingSession = request.chunkingSession;
  });
}

/**
 * A pass covers the requests received before it started: a pass that continues
 * a walk begun earlier cannot see changes made after that walk began. A request
 * still pending when the previous run continued as new counts as one.
 */
export function beginFirstPass(run: SyncRun): void {
  run.coveredRequests = run.requests - (run.input.carry?.extraPass ? 1 : 0);
}

/** A request arrived that the pass under way does not cover. */
export function extraPassNeeded(run: SyncRun): boolean {
  return run.requests > run.coveredRequests;
}

export function beginExtraPass(run: SyncRun): void {
  run.coveredRequests = run.requests;
}

export function recordFailure(run: SyncRun, failure: FailedItem): void {
  run.carry.totals.failed++;
  run.carry.failedItems.push(failure);
  if (run.carry.failedItems.length > MAX_FAILED_KEPT) run.carry.failedItems.shift();
}

export function countSkip(run: SyncRun, reason: string): void {
  run.carry.totals.skipped++;
  run.carry.skippedReasons[reason] = (run.carry.skippedReasons[reason] ?? 0) + 1;
}

/** Adds one file's outcome to the totals (a failure also to the failed-item list). */
export function countOutcome(run: SyncRun, outcome: TransferOutcome, name?: string): void {
  const totals = run.carry.totals;
  totals.bytes += outcome.bytes;
  switch (outcome.result) {
    case 'new':
      totals.new++;
      return;
    case 'updated':
      totals.updated++;
      return;
    case 'unchanged':
      totals.unchanged++;
      return;
    case 'gone':
      countSkip(run, outcome.reason ?? 'deleted at the source before download');
      return;
    case 'failed':
      recordFailure(run, { sourceId: outcome.sourceId, ...(name ? { name } : {}), reason: outcome.reason ?? 'failed' });
  }
}
