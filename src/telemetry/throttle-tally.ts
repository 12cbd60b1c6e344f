import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The throttle waits of one activity attempt, collected where the HTTP layer
 * reports them and handed to the workflow with the activity's result (the
 * activity interceptor adds it as `throttle`), so the run's live details can
 * say how often the source made the sync wait and until when. A wait handed
 * over to Temporal's retry ends the attempt: the Web UI shows it on the pending
 * activity (its last failure and next attempt time) instead.
 */

/** Throttle waits the source imposed on one activity attempt; the workflow reads it as a type only. */
export interface ThrottleTally {
  waits: number;
  waitedMs: number;
  /** When the latest wait ended (or ends), ISO 8601. */
  until?: string;
}

const storage = new AsyncLocalStorage<ThrottleTally>();

export function withThrottleTally<T>(work: () => Promise<T>): Promise<{ result: T; tally: ThrottleTally }> {
  const tally: ThrottleTally = { waits: 0, waitedMs: 0 };
  return storage.run(tally, async () => ({ result: await work(), tally }));
}

/** Counts one wait in the activity this code runs in (nothing outside one). */
export function noteThrottleWait(delayMs: number, now = Date.now()): void {
  const tally = storage.getStore();
  if (!tally) return;
  tally.waits++;
  tally.waitedMs += delayMs;
  const until = new Date(now + delayMs).toISOString();
  if (!tally.until || until > tally.until) tally.until = until;
}

/**
 * The result with the tally attached, when anything was waited: on the result
 * itself when it is an object (a page, one file's outcome), on its first
 * element when it is a list of outcomes (a batch), so the workflow adds it once.
 */
export function withThrottleReport(result: unknown, tally: ThrottleTally): unknown {
  if (tally.waits === 0 || typeof result !== 'object' || result === null) return result;
  if (!Array.isArray(result)) return { ...result, throttle: tally };
  const [first, ...rest] = result as unknown[];
  if (typeof first !== 'object' || first === null) return result;
  return [{ ...first, throttle: tally }, ...rest];
}
