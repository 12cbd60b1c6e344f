/**
 * The handful of failures the pipeline treats differently. Anything else is
 * transient and left to Temporal's retry policy.
 */

/** Where a permanent failure stops: one item (the sync goes on) or the whole sync. */
export type FailureScope = 'item' | 'sync';

/**
 * Error codes have one casing, camelCase, like Graph's (`accessDenied`) and
 * Drive's (`dailyLimitExceeded`): an OAuth `invalid_grant` reads `invalidGrant`.
 */
export function errorCode(code: string): string {
  return code.replace(/[_-]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase()).replace(/^[A-Z]/, (c) => c.toLowerCase());
}

/** Retrying will not help: 403 on a file, over the size cap, revoked grant, bad config. */
export class PermanentSourceError extends Error {
  override readonly name: string = 'PermanentSourceError';
  /** Short machine code in camelCase, e.g. `accessDenied`, `invalidGrant`, `invalidConfig`. */
  readonly code: string;
  constructor(
    message: string,
    code: string,
    readonly scope: FailureScope,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = errorCode(code);
  }
}

/** The source asked us to wait longer than an activity should sleep in place. */
export class ThrottledError extends Error {
  override readonly name = 'ThrottledError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The source could not be reached at all (refused, reset, unknown host, timed out) on every
 * attempt: a network failure, not throttling. Transient, so Temporal retries it; the message
 * names the host and what failed, for `status_message` when the retries run out.
 */
export class SourceUnreachableError extends Error {
  override readonly name = 'SourceUnreachableError';
  constructor(
    message: string,
    /** The backoff the HTTP layer suggests before the next try. */
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The saved cursor is dead (Graph 410, Drive invalid page token): enumerate everything again. */
export class CursorExpiredError extends Error {
  override readonly name = 'CursorExpiredError';
  constructor(
    message: string,
    /** A fresh starting cursor the source offered, if any (Graph's Location header). */
    readonly restartFrom?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The source answered something that is not what its API promises. */
export class SourceProtocolError extends Error {
  override readonly name = 'SourceProtocolError';
}

/**
 * The item is no longer at the source (deleted, or no longer visible) although
 * it was listed: its transfer is skipped, not failed, and the source's next
 * page reports the deletion. Sources throw it from openContent on their 404;
 * the pipeline recognises it by type, never by code or message.
 */
export class ItemGoneError extends PermanentSourceError {
  override readonly name: string = 'ItemGoneError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'itemGone', 'item', options);
  }
}

export const isItemGone = (e: unknown): e is ItemGoneError => e instanceof ItemGoneError;
export const isPermanent = (e: unknown): e is PermanentSourceError => e instanceof PermanentSourceError;
export const isThrottled = (e: unknown): e is ThrottledError => e instanceof ThrottledError;
export const isUnreachable = (e: unknown): e is SourceUnreachableError => e instanceof SourceUnreachableError;
export const isCursorExpired = (e: unknown): e is CursorExpiredError => e instanceof CursorExpiredError;

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
