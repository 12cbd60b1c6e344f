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
import { fullResyncSignal, mergeRetryRequest, noControls, pauseSignal, resumeSignal, retryFailedSignal, type ControlState } from './controls.js';
import { addThrottle, showProgress, throttleOf } from './run-details.js';

/**
 * The state of one run of syncConnector, and the handlers that read and steer
 * it (progress and failedItems queries; syncRequested, stop and the operator
 * controls of controls.ts). Every change of phase or count refreshes the run's
 * current details (run-details.ts).
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
  /** What operators asked through the controls (pause, fullResync, retryFailed). */
  controls: ControlState;
  /** The first pass has begun: a request from now on asks for another one. */
  passBegun?: boolean;
  /** Who asked for another pass during this run (`push`, `orchestrator`), and how often: shown in the run's details. */
  requestedBy: Record<string, number>;
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
  let phase: SyncPhase = 'starting';
  let inFlight = 0;
  const run: SyncRun = {
    input,
    connectorId: input.connectorId,
    carry,
    get phase() {
      return phase;
    },
    set phase(next: SyncPhase) {
      phase = next;
      showProgress(run);
    },
    get inFlight() {
      return inFlight;
    },
    set inFlight(next: number) {
      inFlight = next;
      showProgress(run);
    },
    controls: { ...noControls(), ...(carry.fullResyncPending ? { fullResyncRequested: true } : {}) },
    requests: 0,
    coveredRequests: 0,
    requestedBy: {},
    ...(input.chunkingSession ? { chunkingSession: input.chunkingSession } : {}),
  };
  answerQueriesAndSignals(run);
  return run;
}

/** progress and failedItems read the run; syncRequested, stop and the operator controls (controls.ts) steer it. */
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
    paused: run.controls.pausedAt !== undefined,
  }));
  setHandler(failedItemsQuery, () => carry.failedItems);
  setHandler(stopSignal, (reason) => {
    run.stopRequested = reason ?? 'stopped by an operator';
  });
  setHandler(syncRequestedSignal, (request) => {
    run.requests++;
    if (request?.chunkingSession) run.chunkingSession = request.chunkingSession;
    // A request delivered with the run's start is its trigger; one after the first pass began asked for another.
    if (request?.trigger && run.passBegun) {
      run.requestedBy[request.trigger] = (run.requestedBy[request.trigger] ?? 0) + 1;
      showProgress(run);
    }
  });
  setHandler(pauseSignal, (reason) => {
    run.controls.pauseRequested = reason ?? 'paused by an operator';
    showProgress(run);
  });
  setHandler(resumeSignal, () => {
    delete run.controls.pauseRequested;
    showProgress(run);
  });
  setHandler(fullResyncSignal, () => {
    run.controls.fullResyncRequested = true;
    showProgress(run);
  });
  setHandler(retryFailedSignal, (request) => {
    run.controls.retryFailedRequested = mergeRetryRequest(run.controls.retryFailedRequested, request?.sourceIds);
    showProgress(run);
  });
  showProgress(run);
}

/**
 * A pass covers the requests received before it started: a pass that continues
 * a walk begun earlier cannot see changes made after that walk began. A request
 * still pending when the previous run continued as new counts as one.
 */
export function beginFirstPass(run: SyncRun): void {
  run.passBegun = true;
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
  countOutcomeOnly(run, outcome, name);
  addThrottle(run.carry, throttleOf(outcome));
  showProgress(run);
}

function countOutcomeOnly(run: SyncRun, outcome: TransferOutcome, name?: string): void {
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
    case 'skipped':
      countSkip(run, outcome.reason ?? 'the source withholds this file');
      return;
    case 'failed':
      recordFailure(run, { sourceId: outcome.sourceId, ...(name ? { name } : {}), reason: outcome.reason ?? 'failed' });
  }
}
