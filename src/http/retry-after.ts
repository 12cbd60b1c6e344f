/**
 * Reads a `Retry-After` value: delay-seconds or an HTTP-date. Returns the wait
 * in milliseconds (never negative), or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // Every HTTP-date form carries a clock time; without one, V8's lenient Date.parse reads "-5" or "1,5" as a past date (= retry now).
  if (!/\d{1,2}:\d{2}/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Google sometimes says "Retry after 2026-11-26T10:00:00.000Z" in an error message instead of a header. */
export function parseRetryAfterInMessage(message: string | undefined, now: number = Date.now()): number | undefined {
  if (!message) return undefined;
  const match = /retry after\s+([0-9TZ:.+\- ]{10,40}\d(?:Z)?)/i.exec(message);
  if (!match?.[1]) return undefined;
  const at = Date.parse(match[1].trim());
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff with full jitter: a random wait in [base, min(cap, base·2^attempt)]. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(baseMs + random() * Math.max(0, ceiling - baseMs));
}
