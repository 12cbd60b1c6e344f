import { ApplicationFailure } from '@temporalio/activity';
import { countIndexedDocuments } from '../src/db/documents.js';
import { describeError, isPermanent, isRetryLater, ScopeGoneError } from '../src/errors.js';
import { StorageError } from '../src/storage/object-store.js';
import { FAILURE } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';

export { FAILURE };

/**
 * Turns a source error into what Temporal should do with it: a permanent one
 * stops retries; throttling and an unreachable host ask for the HTTP layer's
 * delay, each named as what it is; anything else is left to the retry policy.
 */
export function toActivityFailure(e: unknown): unknown {
  if (isPermanent(e)) {
    return ApplicationFailure.create({
      type: FAILURE.sourcePermanent,
      message: e.message,
      nonRetryable: true,
      details: [{ code: e.code, scope: e.scope }],
    });
  }
  if (isRetryLater(e)) {
    return ApplicationFailure.create({
      type: e.reason === 'throttled' ? FAILURE.throttled : FAILURE.sourceUnreachable,
      message: e.message,
      nextRetryDelay: Math.max(1000, e.retryAfterMs),
    });
  }
  if (e instanceof ApplicationFailure) return e;
  return e instanceof Error ? e : new Error(describeError(e));
}

/**
 * A scope that is gone ends the sync naming how many documents of the connector are still indexed
 * (counted in the database, not guessed by the source) and how to remove them or resume.
 */
export async function withIndexedCount(deps: ActivityDeps, connectorId: number, e: ScopeGoneError): Promise<ScopeGoneError> {
  const indexed = await countIndexedDocuments(deps.db, connectorId);
  const them = indexed === 1 ? 'it' : 'them';
  const still =
    indexed === 0
      ? 'no document of this connector is indexed'
      : `${indexed === 1 ? '1 document' : `${indexed} documents`} of this connector ${indexed === 1 ? 'is' : 'are'} still indexed in EchoMind: delete the connector in EchoMind to remove ${them}, or`;
  return new ScopeGoneError(`${e.message}; ${still}${indexed === 0 ? ': ' : ' '}${e.remedy}`, e.code, e.remedy, { cause: e, status: e.status, url: e.url });
}

/** The steps of one file's transfer, each talking to one party. */
export type TransferStep = 'lookup' | 'download' | 'store' | 'record' | 'publish';

const OWN_DEPENDENCY: Record<Exclude<TransferStep, 'download' | 'store'>, string> = {
  lookup: 'the database (PostgreSQL)',
  record: 'the database (PostgreSQL)',
  publish: 'the message bus (NATS JetStream)',
};

/** PostgreSQL refused this row's data (class 22 data exception, 23 integrity): the row, not the server. */
function isRowDataError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

function dependencyDown(what: string, e: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE.dependencyUnavailable,
    message: `${what} is unavailable (${describeError(e)})`,
    cause: e instanceof Error ? e : undefined,
  });
}

/**
 * Who is to blame for a failed transfer step, as a typed failure the workflow
 * reads (see "One file never stops a sync" in docs/architecture.md):
 * - our own object store, PostgreSQL or NATS failing as a whole → DependencyUnavailable
 *   (after its retries the sync fails and the cursor stays);
 * - the source failing on this file (5xx, cut or garbled answers) → SourceItemError
 *   (after its retries the file is recorded as failed and the sync goes on);
 * - the store or the database refusing this one file's data → StoreRejected (a file
 *   failure only if other files get through);
 * - permanent refusals and throttling as toActivityFailure says.
 */
export function transferFailure(step: TransferStep, e: unknown): unknown {
  if (isPermanent(e) || isRetryLater(e) || e instanceof ApplicationFailure) return toActivityFailure(e);
  if (e instanceof StorageError) {
    if (e.unavailable) return dependencyDown('the object store', e);
    return ApplicationFailure.create({ type: FAILURE.storeRejected, message: e.message, cause: e });
  }
  if (step === 'download' || step === 'store') {
    return ApplicationFailure.create({ type: FAILURE.sourceItemError, message: describeError(e), cause: e instanceof Error ? e : undefined });
  }
  if (step !== 'publish' && isRowDataError(e)) {
    return ApplicationFailure.create({ type: FAILURE.storeRejected, message: `the database refused this file's row (${describeError(e)})`, nonRetryable: true });
  }
  return dependencyDown(OWN_DEPENDENCY[step], e);
}
