/**
 * The verdicts a source's answer can carry, one class each. The HTTP layer
 * (src/http/source-http.ts, with each source's classifier) decides the verdict
 * once; sources and activities branch on the class (the `is…` guards below),
 * never on an HTTP status or a message. Anything else is transient and left to
 * Temporal's retry policy.
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

/** What the HTTP layer saw when it decided, kept as detail (never branched on). */
export interface SourceErrorOptions {
  cause?: unknown;
  /** The HTTP status of the answer, when there was one. */
  status?: number;
  /** The URL asked, without its query string (tokens travel there). */
  url?: string;
}

/** A verdict about a source's answer: the source's own code, and the HTTP detail behind it. */
export abstract class SourceError extends Error {
  /** Short machine code in camelCase, the source's own where it gave one: `accessDenied`, `resyncRequired`, `itemNotFound`. */
  readonly code: string;
  readonly status: number | undefined;
  readonly url: string | undefined;
  constructor(message: string, code: string, options: SourceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = errorCode(code);
    this.status = options.status;
    this.url = options.url;
  }
}

/** Retrying will not help: 403 on a file, over the size cap, revoked grant, bad config. */
export class PermanentSourceError extends SourceError {
  override readonly name: string = 'PermanentSourceError';
  constructor(
    message: string,
    code: string,
    readonly scope: FailureScope,
    options?: SourceErrorOptions,
  ) {
    super(message, code, options);
  }
}

/**
 * The source refused our credentials again after the one token refresh: the
 * whole sync stops until someone reconnects the account.
 */
export class UnauthorizedError extends PermanentSourceError {
  override readonly name: string = 'UnauthorizedError';
  constructor(message: string, code: string, options?: SourceErrorOptions) {
    super(message, code, 'sync', options);
  }
}

/**
 * The item is no longer at the source (deleted, or no longer visible) although
 * it was listed: its transfer is skipped, not failed, and the source's next
 * page reports the deletion. Made only by `itemGoneIfNotFound`, from a
 * NotFoundError met while opening the item.
 */
export class ItemGoneError extends PermanentSourceError {
  override readonly name: string = 'ItemGoneError';
  constructor(message: string, options?: SourceErrorOptions) {
    super(message, 'itemGone', 'item', options);
  }
}

/**
 * The pre-authenticated URL a download was redirected to refused it (401 or 403). Our token never
 * goes there, so this says nothing about the sign-in: that one item fails, and a fresh link (a new
 * request to the source) may work. Made only by the HTTP layer.
 */
export class DownloadRefusedError extends PermanentSourceError {
  override readonly name: string = 'DownloadRefusedError';
  constructor(message: string, options?: SourceErrorOptions) {
    super(message, 'downloadRefused', 'item', options);
  }
}

/**
 * The source refuses this item's bytes for good, by its own documented code (Graph: access
 * restricted to the item's owner, malware detected): the file is skipped with `reason`, not
 * recorded as a failure that later syncs retry. It is tried again only when the source lists it
 * again (it changed, or a full enumeration). Made only by the HTTP layer, from a `withheld` verdict.
 */
export class ItemWithheldError extends PermanentSourceError {
  override readonly name: string = 'ItemWithheldError';
  constructor(
    message: string,
    code: string,
    /** Why, in a person's words, the same for every file refused the same way (skip reasons are grouped). */
    readonly reason: string,
    options?: SourceErrorOptions,
  ) {
    super(message, code, 'item', options);
  }
}

/**
 * The connector's whole scope is gone or unreadable (its drive, folder, site or library answers
 * "not found"): nothing can be listed. The message says what is gone; `remedy` says how to get the
 * connector syncing again. The sync pipeline adds how many documents of the connector are still
 * indexed, counted in the database, and how to remove them.
 */
export class ScopeGoneError extends PermanentSourceError {
  override readonly name: string = 'ScopeGoneError';
  constructor(
    message: string,
    code: string,
    readonly remedy: string,
    options?: SourceErrorOptions,
  ) {
    super(message, code, 'sync', options);
  }
}

/**
 * The thing a request addressed is absent (Graph `itemNotFound`, Drive
 * `notFound`). Not a verdict on the sync: the caller decides what absence
 * means there (a gone item, a config naming nothing, a folder that left).
 */
export class NotFoundError extends SourceError {
  override readonly name = 'NotFoundError';
}

/** The saved cursor is dead (Graph 410, Drive invalid page token): enumerate everything again. */
export class CursorExpiredError extends SourceError {
  override readonly name = 'CursorExpiredError';
  /** A fresh starting cursor the source offered, if any. */
  readonly restartFrom: Record<string, unknown> | undefined;
  constructor(message: string, code: string, options: SourceErrorOptions & { restartFrom?: Record<string, unknown> } = {}) {
    super(message, code, options);
    this.restartFrom = options.restartFrom;
  }
}

/**
 * Not a dead cursor: the periodic full enumeration is due (the safety net for tombstones that
 * never came and changes a change log missed). The pipeline treats it as an expired cursor,
 * enumerates everything again and sweeps what it did not see, and says it was scheduled.
 */
export class EnumerationDueError extends CursorExpiredError {
  constructor(message: string, options?: SourceErrorOptions) {
    super(message, 'enumerationDue', options);
  }
}

/** Why a request is to be tried again later: the source asked us to wait, or nothing answered. */
export type RetryLaterReason = 'throttled' | 'unreachable';

/**
 * Transient, and Temporal should wait before the next try: the activity hands
 * the wait over instead of sleeping in place. The message names the host and
 * what failed, for `status_message` when the retries run out.
 */
export abstract class RetryLaterError extends SourceError {
  abstract readonly reason: RetryLaterReason;
  constructor(
    message: string,
    code: string,
    /** The source's own hint (Retry-After), or the HTTP layer's backoff. */
    readonly retryAfterMs: number,
    options?: SourceErrorOptions,
  ) {
    super(message, code, options);
  }
}

/** The source asked us to wait longer than an activity should sleep in place (or kept failing through every retry). */
export class ThrottledError extends RetryLaterError {
  override readonly name = 'ThrottledError';
  readonly reason = 'throttled';
}

/**
 * The source could not be reached at all (refused, reset, unknown host, timed out) on every
 * attempt: a network failure, not throttling.
 */
export class SourceUnreachableError extends RetryLaterError {
  override readonly name = 'SourceUnreachableError';
  readonly reason = 'unreachable';
}

/** The source answered something that is not what its API promises. */
export class SourceProtocolError extends Error {
  override readonly name = 'SourceProtocolError';
}

export const isPermanent = (e: unknown): e is PermanentSourceError => e instanceof PermanentSourceError;
export const isUnauthorized = (e: unknown): e is UnauthorizedError => e instanceof UnauthorizedError;
export const isItemGone = (e: unknown): e is ItemGoneError => e instanceof ItemGoneError;
export const isItemWithheld = (e: unknown): e is ItemWithheldError => e instanceof ItemWithheldError;
export const isScopeGone = (e: unknown): e is ScopeGoneError => e instanceof ScopeGoneError;
export const isDownloadRefused = (e: unknown): e is DownloadRefusedError => e instanceof DownloadRefusedError;
export const isNotFound = (e: unknown): e is NotFoundError => e instanceof NotFoundError;
export const isCursorExpired = (e: unknown): e is CursorExpiredError => e instanceof CursorExpiredError;
export const isEnumerationDue = (e: unknown): e is EnumerationDueError => e instanceof EnumerationDueError;
export const isRetryLater = (e: unknown): e is RetryLaterError => e instanceof RetryLaterError;
export const isThrottled = (e: unknown): e is ThrottledError => e instanceof ThrottledError;
export const isUnreachable = (e: unknown): e is SourceUnreachableError => e instanceof SourceUnreachableError;

/**
 * The one rule for "gone": opening an item the source listed, a NotFoundError
 * means the item went away since (its deletion comes with the next page).
 * Anything else passes through unchanged.
 */
export function itemGoneIfNotFound(e: unknown, message: string): unknown {
  if (!isNotFound(e)) return e;
  return new ItemGoneError(message, { cause: e, status: e.status, url: e.url });
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
