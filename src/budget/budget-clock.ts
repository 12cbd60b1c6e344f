import { setTimeout as sleep } from 'node:timers/promises';

/** Time as the shared budget sees it; tests drive it by hand. */
export interface BudgetClock {
  /** Milliseconds since the epoch; undefined means "ask PostgreSQL", one clock for every replica. */
  now(): number | undefined;
  /** Local time, for lease expiry on this worker. */
  localNow(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: BudgetClock = {
  now: () => undefined,
  localNow: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, signal ? { signal } : {}),
};
