import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { findDocuments } from '../src/db/documents.js';
import { describeError } from '../src/errors.js';
import { UPLOAD_PART_BYTES } from '../src/storage/object-store.js';
import { FAILURE, type BatchInput, type BatchOutcome, type PlannedItem } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { transferFailure } from './failures.js';
import { TRANSFER_HEARTBEAT_EVERY_MS } from '../workflows/activity-options.js';
import { heartbeat, withHeartbeats } from './source-context.js';
import { RECORD_LINGER_MS } from './document-writes.js';
import { openTransferScope, recordFailure, transferItem, type TransferScope } from './transfer-file.js';

/**
 * A batch of small files in one activity: the connector row is read once, the
 * known documents are looked up once, and the files go through the same steps
 * as transferFile with a bounded concurrency (per batch, and per worker through
 * the shared slots). Each file's outcome is a value. A file that hits a passing
 * failure comes back as `retry` for the workflow to send through transferFile;
 * an outage of our own dependencies fails the whole batch, and its retry skips
 * the files already finished (heartbeat details carry their outcomes). The
 * batch beats every few seconds whatever its files are doing (a large file
 * downloading, a wait for a transfer slot), so a dead worker's batch is taken
 * over soon; a file finished after the last beat that got out is recognised by
 * the transfer id its stored version records.
 */

/** Files in flight per batch when the worker does not say. */
export const DEFAULT_FILES_IN_FLIGHT_PER_BATCH = 8;

/** A file the source gave no size for is counted as this many bytes held. */
const UNKNOWN_SIZE_BYTES = 2 * 1024 * 1024;

/** Bytes of the file's body the transfer holds at once: all of it up to one upload part, then a part. */
function bytesHeldInMemory(item: PlannedItem): number {
  return Math.min(item.size ?? UNKNOWN_SIZE_BYTES, UPLOAD_PART_BYTES);
}

/** A failure that is not one file's: it ends the batch (and, after its retries, the sync). */
function endsTheBatch(failure: unknown): boolean {
  if (!(failure instanceof ApplicationFailure)) return false;
  if (failure.type === FAILURE.dependencyUnavailable || failure.type === FAILURE.connectorNotFound || failure.type === FAILURE.sourceUnreachable) return true;
  return failure.type === FAILURE.sourcePermanent && (failure.details?.[0] as { scope?: string } | undefined)?.scope === 'sync';
}

/** The same failure, saying which file met it (details[0].file), for the status message. */
function namingTheFile(failure: ApplicationFailure, item: PlannedItem): ApplicationFailure {
  const [first, ...rest] = failure.details ?? [];
  return ApplicationFailure.create({
    type: failure.type ?? undefined,
    message: failure.message,
    nonRetryable: failure.nonRetryable === true,
    details: [{ ...(typeof first === 'object' && first !== null ? first : {}), file: item.name }, ...rest],
    ...(failure.nextRetryDelay != null ? { nextRetryDelay: failure.nextRetryDelay as number } : {}),
    ...(failure.cause ? { cause: failure.cause } : {}),
  });
}

function finishedBefore(): Map<string, BatchOutcome> {
  let details: unknown;
  try {
    details = Context.current().info.heartbeatDetails;
  } catch {
    return new Map();
  }
  const finished = (details as { finished?: BatchOutcome[] } | undefined)?.finished ?? [];
  return new Map(finished.map((o) => [o.sourceId, o]));
}

/** A file's failure as its batch outcome (`retry`, for the workflow to send through transferFile), or thrown when it ends the batch. */
function outcomeOfFailure(item: PlannedItem, failure: unknown): BatchOutcome {
  if (endsTheBatch(failure)) throw namingTheFile(failure as ApplicationFailure, item);
  const failureType = failure instanceof ApplicationFailure ? (failure.type ?? 'Error') : 'Error';
  return { sourceId: item.sourceId, result: 'retry', bytes: 0, reason: describeError(failure), failureType };
}

/** A deferred publication record that failed, as its file's batch outcome, or thrown when the failure ends the batch. */
function outcomeOfRecordFailure(scope: TransferScope, item: PlannedItem, e: unknown): BatchOutcome {
  try {
    return recordFailure(scope, item, e);
  } catch (failure) {
    return outcomeOfFailure(item, failure);
  }
}

async function transferOneOfBatch(scope: TransferScope, item: PlannedItem, known: Awaited<ReturnType<typeof findDocuments>>): Promise<BatchOutcome> {
  try {
    return await transferItem(scope, item, known.get(item.sourceId));
  } catch (failure) {
    return outcomeOfFailure(item, failure);
  }
}

export function transferBatchActivity(deps: ActivityDeps) {
  return async function transferBatch(input: BatchInput): Promise<BatchOutcome[]> {
    const done = finishedBefore();
    // Each beat carries every file finished so far. Beats go at the timer's pace, not after each file: the worker
    // sends Temporal at most one every maxHeartbeatThrottleInterval (the same period) anyway, and encoding the
    // growing list after every file cost more than the rest of the bookkeeping.
    const details = () => ({ page: input.page, files: input.items.length, finished: [...done.values()] });
    return withHeartbeats(details, () => transferTheRest(deps, input, done), TRANSFER_HEARTBEAT_EVERY_MS).catch((e: unknown) => {
      // Failing: one last beat, so that the retry skips every file finished since the timer's.
      heartbeat(details());
      throw e;
    });
  };
}

/**
 * The batch's files not finished by an earlier attempt, `filesInFlightPerBatch` at a time, each
 * outcome into `done` once the file is wholly durable. Publication records linger
 * (RECORD_LINGER_MS) so that the batch's take one or two statements: a file's lane goes on to
 * the next file at once, and the file counts as finished (in `done`, so in the heartbeats a retry
 * trusts) only when its record is written. A worker that dies before that leaves the file
 * published but unrecorded: its retry publishes it again under the same message id, which
 * JetStream drops, and counts it once.
 */
async function transferTheRest(deps: ActivityDeps, input: BatchInput, done: Map<string, BatchOutcome>): Promise<BatchOutcome[]> {
  const todo = input.items.filter((item) => !done.has(item.sourceId));
  const scope = await openTransferScope(deps, input, { recordLingerMs: deps.recordLingerMs ?? RECORD_LINGER_MS }).catch((e: unknown) => {
    throw transferFailure('lookup', e);
  });
  const known = await findDocuments(deps.db, scope.connector.id, todo.map((i) => i.sourceId)).catch((e: unknown) => {
    throw transferFailure('lookup', e);
  });
  let next = 0;
  let stopped = false;
  // Publication records handed over by files, until their file is finished.
  const unrecorded = new Map<string, Promise<void>>();
  scope.deferRecord = (sourceId, recorded) => unrecorded.set(sourceId, recorded);
  scope.storedFileLevel = 'debug';
  const recording: Array<Promise<void>> = [];
  let recordEndedTheBatch: { failure: unknown } | undefined;
  const finish = (item: PlannedItem, outcome: BatchOutcome) => {
    const recorded = unrecorded.get(item.sourceId);
    if (recorded === undefined) return void done.set(item.sourceId, outcome);
    unrecorded.delete(item.sourceId);
    recording.push(
      recorded.then(
        () => void done.set(item.sourceId, outcome),
        (e: unknown) => {
          try {
            done.set(item.sourceId, outcomeOfRecordFailure(scope, item, e));
          } catch (failure) {
            recordEndedTheBatch ??= { failure };
            stopped = true;
          }
        },
      ),
    );
  };
  // Cancelled (Temporal gave this attempt up, say after its heartbeats were lost): no new file; its retry takes them.
  const cancelled = () => scope.source.signal?.aborted === true;
  const lanes = Array.from({ length: Math.min(deps.filesInFlightPerBatch ?? DEFAULT_FILES_IN_FLIGHT_PER_BATCH, todo.length) }, async () => {
    while (!stopped && next < todo.length) {
      if (cancelled()) throw new CancelledFailure('the batch was cancelled before all its files were taken');
      const item = todo[next++] as PlannedItem;
      try {
        const outcome = await (deps.transferSlots ? deps.transferSlots.run(() => transferOneOfBatch(scope, item, known), bytesHeldInMemory(item)) : transferOneOfBatch(scope, item, known));
        finish(item, outcome);
      } catch (e) {
        stopped = true;
        throw e;
      }
    }
  });
  try {
    await Promise.all(lanes);
  } finally {
    // The records asked so far go now, the batch ending well or not, so that its beats (and a retry) count those files finished.
    await scope.writes.flushRecords();
    await Promise.allSettled(recording);
  }
  if (recordEndedTheBatch) throw recordEndedTheBatch.failure;
  const outcomes = input.items.map((item) => done.get(item.sourceId) as BatchOutcome);
  scope.log.info(
    { page: input.page, files: input.items.length, skippedAsFinished: input.items.length - todo.length, ...tally(outcomes) },
    'transferred a batch',
  );
  return outcomes;
}

/** A batch's outcomes for its log line: files by result (new, updated, unchanged, retry…) and the bytes stored. */
function tally(outcomes: BatchOutcome[]): { results: Record<string, number>; bytes: number } {
  const results: Record<string, number> = {};
  let bytes = 0;
  for (const o of outcomes) {
    results[o.result] = (results[o.result] ?? 0) + 1;
    bytes += o.bytes;
  }
  return { results, bytes };
}
