import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { FAILURE, sourceLabel } from './definitions.js';

/**
 * What a person reads in `status_message` when a sync ends in error: which
 * source, what failed and what to do first, the technical detail last.
 */

/** A failure that ends the whole sync, with where it happened ("while storing "a.pdf"", "while listing changes"). */
export class SyncFailure extends Error {
  override readonly name = 'SyncFailure';
  constructor(
    readonly where: string,
    readonly failure: unknown,
  ) {
    super(`${where}: ${reasonOf(failure)}`);
  }
}

/** The innermost cause's message. */
export function reasonOf(e: unknown): string {
  let current: unknown = e;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  if (current instanceof TimeoutFailure) return `no progress reported in time (${current.timeoutType})`;
  if (current instanceof Error) return current.message;
  return String(current);
}

function typeOf(e: unknown): string | undefined {
  const cause = e instanceof ActivityFailure ? e.cause : e;
  return cause instanceof ApplicationFailure ? cause.type ?? undefined : undefined;
}

const RESUMES = 'the next sync resumes from the last saved page';

/** "OneDrive sync failed while listing changes: <what to do>. <detail>" — never a doubled prefix. */
export function syncFailureMessage(connectorType: string | undefined, e: unknown): string {
  const where = e instanceof SyncFailure ? ` ${e.where}` : '';
  const failure = e instanceof SyncFailure ? e.failure : e;
  const reason = reasonOf(failure);
  const source = sourceLabel(connectorType);
  switch (typeOf(failure)) {
    case FAILURE.dependencyUnavailable:
      return `${source} sync stopped${where}: ${reason}. Nothing was lost; ${RESUMES} once it is back.`;
    case FAILURE.sourcePermanent:
      return `${source} sync failed${where}: ${reason}`;
    case FAILURE.throttled:
      return `${source} sync gave up waiting${where}: ${source} kept throttling (${reason}); ${RESUMES}.`;
    default:
      return `${source} sync failed${where}: ${reason}. ${capitalize(RESUMES)}.`;
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
