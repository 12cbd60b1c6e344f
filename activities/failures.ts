import { ApplicationFailure } from '@temporalio/activity';
import { describeError, isPermanent, isThrottled, isUnreachable } from '../src/errors.js';

/** Failure types the workflow and retry policies know by name. */
export const FAILURE = {
  connectorNotFound: 'ConnectorNotFound',
  sourcePermanent: 'SourcePermanentError',
  throttled: 'Throttled',
  unreachable: 'SourceUnreachable',
} as const;

/** Non-retryable failure types: retrying cannot help. */
export const NON_RETRYABLE = [FAILURE.connectorNotFound, FAILURE.sourcePermanent];

/**
 * Turns a source error into what Temporal should do with it: a permanent one
 * stops retries; throttling asks for the source's own delay; anything else is
 * left to the retry policy.
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
  if (isThrottled(e)) {
    return ApplicationFailure.create({
      type: FAILURE.throttled,
      message: e.message,
      nextRetryDelay: Math.max(1000, e.retryAfterMs),
    });
  }
  if (isUnreachable(e)) {
    // A network failure, not throttling: retried on the HTTP layer's backoff, named as what it is.
    return ApplicationFailure.create({ type: FAILURE.unreachable, message: e.message, nextRetryDelay: Math.max(1000, e.retryAfterMs) });
  }
  if (e instanceof ApplicationFailure) return e;
  return e instanceof Error ? e : new Error(describeError(e));
}
