import { EnumerationDueError } from '../errors.js';
import { optionalWholeNumber } from './connector-config.js';

/**
 * The periodic full enumeration every source with a change log offers: the safety net every
 * reference recommends for tombstones that never came, changes a log missed and stale links.
 * A sync whose cursor is caught up and whose last full enumeration is older than
 * `full_enumeration_days` lists the whole scope again, and the sweep after it deletes what it
 * did not see. Unchanged files keep their signatures, so it downloads nothing for them.
 *
 * Each source keeps the time of its last complete enumeration in its cursor and decides when
 * its cursor is at rest; the rule below, and the key's meaning, are the same for all.
 */

export const DEFAULT_FULL_ENUMERATION_DAYS = 7;

/** `full_enumeration_days`: optional, 0–365 (0: never, only when a cursor expires), default weekly. */
export const fullEnumerationDaysKey = optionalWholeNumber(0, 365).transform((days) => days ?? DEFAULT_FULL_ENUMERATION_DAYS);

const DAY_MS = 24 * 60 * 60_000;

/**
 * Throws EnumerationDueError when a cursor at rest was last fully enumerated `days` or more
 * ago. Cursors saved before their source recorded the time (`enumeratedAt` absent) are not due:
 * the source stamps them on their next pass.
 */
export function checkEnumerationDue(enumeratedAt: string | undefined, days: number, now: number): void {
  if (days === 0 || enumeratedAt === undefined) return;
  if (now - Date.parse(enumeratedAt) < days * DAY_MS) return;
  throw new EnumerationDueError(`the periodic full enumeration is due (every ${days} days, last ${enumeratedAt}): listing everything again`);
}
