import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { SyncActivities } from '../activities/index.js';
import {
  emptyTotals,
  failedItemsQuery,
  progressQuery,
  stopSignal,
  summarize,
  syncRequestedSignal,
  type FailedItem,
  type PlannedItem,
  type SyncCarry,
  type SyncConnectorInput,
  type SyncPhase,
  type SyncResult,
} from './definitions.js';

const NON_RETRYABLE = ['ConnectorNotFound', 'SourcePermanentError'];

/** Named option profiles: a short database step, a page listing, a long transfer. */
const profiles = {
  databaseStep: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE },
  },
  listing: {
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '45 seconds',
    retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE },
  },
  transfer: {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '45 seconds',
    retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE },
  },
} satisfies Record<string, ActivityOptions>;

const db = proxyActivities<SyncActivities>(profiles.databaseStep);
const source = proxyActivities<SyncActivities>(profiles.listing);
const transfers = proxyActivities<SyncActivities>(profiles.transfer);

const TRANSFER_CONCURRENCY = 8;
const MAX_FAILED_KEPT = 100;
const DEFAULT_MAX_HISTORY_EVENTS = 10_000;

/** Runs `work` over `items` with at most `limit` in flight; results in input order. */
async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
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

/** The innermost cause's message: what a person should read in `status_message`. */
function reasonOf(e: unknown): string {
  let current: unknown = e;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  if (current instanceof Error) return current.message;
  return String(current);
}

/**
 * One sync of one connector: page by page, list changes, store what changed,
 * and save the cursor only once the page is durable. Always ends the connector
 * in a terminal status.
 */
export async function syncConnector(input: SyncConnectorInput): Promise<SyncResult> {
  const { connectorId } = input;
  const carry: SyncCarry = input.carry ?? {
    totals: emptyTotals(),
    failedItems: [],
    skippedReasons: {},
    startedAt: new Date().toISOString(),
    runs: 0,
  };
  carry.runs++;
  const totals = carry.totals;
  let phase: SyncPhase = 'starting';
  let inFlight = 0;
  let stopRequested: string | undefined;

  setHandler(progressQuery, () => ({
    connectorId,
    phase,
    totals,
    failedItems: carry.failedItems,
    skippedReasons: carry.skippedReasons,
    inFlight,
    runs: carry.runs,
  }));
  setHandler(failedItemsQuery, () => carry.failedItems);
  setHandler(stopSignal, (reason) => {
    stopRequested = reason ?? 'stopped by an operator';
  });
  // Requests received, and how many of them the current pass covers: a pass that
  // continues a walk begun earlier cannot see changes made after that walk began,
  // so only a pass started after a request covers it.
  let requests = 0;
  let coveredRequests: number;
  let chunkingSession = input.chunkingSession;
  setHandler(syncRequestedSignal, (request) => {
    requests++;
    if (request?.chunkingSession) chunkingSession = request.chunkingSession;
  });

  const recordFailure = (failure: FailedItem) => {
    totals.failed++;
    carry.failedItems.push(failure);
    if (carry.failedItems.length > MAX_FAILED_KEPT) carry.failedItems.shift();
  };

  const countSkip = (reason: string) => {
    totals.skipped++;
    carry.skippedReasons[reason] = (carry.skippedReasons[reason] ?? 0) + 1;
  };

  const finishWithError = async (message: string): Promise<SyncResult> => {
    phase = 'finishing';
    await CancellationScope.nonCancellable(() => db.failSync({ connectorId, message }));
    phase = 'done';
    return { outcome: stopRequested ? 'cancelled' : 'failed', connectorId, message, totals };
  };

  try {
    if (!input.carry) {
      const begin = await db.beginSync({ connectorId, ...(input.expectedType ? { expectedType: input.expectedType } : {}) });
      if (begin.kind === 'skip') {
        log.info('sync skipped', { connectorId, reason: begin.reason });
        phase = 'done';
        return { outcome: 'skipped', connectorId, message: begin.reason, totals };
      }
      if (begin.kind === 'reject') {
        phase = 'done';
        return { outcome: 'rejected', connectorId, message: begin.reason, totals };
      }
      upsertSearchAttributes({ ConnectorId: [connectorId], ConnectorType: [begin.connectorType] });
    }

    let restart = input.fullResync === true && !input.carry;
    const maxEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
    coveredRequests = requests - (input.carry?.extraPass ? 1 : 0);
    for (;;) {
      phase = 'listing';
      const page = await source.planPage({ connectorId, restart });
      restart = false;
      totals.pages++;
      totals.unchanged += page.unchanged;
      totals.renamed += page.renamed;
      totals.deleted += page.deleted;
      if (page.resynced) totals.resyncs++;
      for (const skip of page.skipped) countSkip(skip.reason);
      page.failed.forEach(recordFailure);

      phase = 'transferring';
      await mapLimited(page.transfers, TRANSFER_CONCURRENCY, async (item: PlannedItem) => {
        inFlight++;
        try {
          const outcome = await transfers.transferFile({
            connectorId,
            item,
            ...(chunkingSession ? { chunkingSession } : {}),
          });
          if (outcome.result === 'new') totals.new++;
          else if (outcome.result === 'updated') totals.updated++;
          else if (outcome.result === 'unchanged') totals.unchanged++;
          else if (outcome.result === 'gone') countSkip(outcome.reason ?? 'deleted at the source before download');
          else recordFailure({ sourceId: item.sourceId, name: item.name, reason: outcome.reason ?? 'failed' });
          totals.bytes += outcome.bytes;
        } finally {
          inFlight--;
        }
      });

      phase = 'committing';
      const { swept } = await db.commitPage({
        connectorId,
        state: page.cursor,
        ...(page.sweepGeneration ? { sweepGeneration: page.sweepGeneration } : {}),
      });
      totals.deleted += swept;

      if (!page.hasMore) {
        if (requests === coveredRequests) break;
        // Caught up, but a request arrived during this pass: one more pass from the saved cursor.
        coveredRequests = requests;
      }
      if (stopRequested) {
        return await finishWithError(`${stopRequested}; the next sync resumes from the last saved page`);
      }
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > maxEvents) {
        log.info('continuing as new to keep history small', { connectorId, historyLength: info.historyLength });
        carry.extraPass = requests > coveredRequests;
        const next: SyncConnectorInput = { ...input, carry, ...(chunkingSession ? { chunkingSession } : {}) };
        delete next.fullResync;
        return await continueAsNew<typeof syncConnector>(next);
      }
    }

    phase = 'finishing';
    const summary = summarize(totals, carry.skippedReasons);
    await db.finishSync({ connectorId, totals, summary });
    phase = 'done';
    if (requests > coveredRequests) {
      // A request arrived while finishing: sync again rather than drop it.
      return await continueAsNew<typeof syncConnector>({
        connectorId,
        ...(chunkingSession ? { chunkingSession } : {}),
        ...(input.expectedType ? { expectedType: input.expectedType } : {}),
      });
    }
    return { outcome: 'synced', connectorId, message: summary, totals };
  } catch (e) {
    if (e instanceof ContinueAsNew) throw e;
    if (isCancellation(e)) {
      await finishWithError('sync cancelled by an operator; the next sync resumes from the last saved page');
      throw e;
    }
    const failure = e instanceof ActivityFailure ? e.cause : e;
    if (failure instanceof ApplicationFailure && failure.type === 'ConnectorNotFound') throw failure;
    const message = `sync failed: ${reasonOf(e)}`;
    await finishWithError(message);
    // Fail the run too, so the Temporal UI shows it red with the same message.
    throw ApplicationFailure.create({ type: 'SyncFailed', message, nonRetryable: true, details: [totals] });
  }
}
