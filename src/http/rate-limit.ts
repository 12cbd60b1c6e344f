import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Keeps requests under per-second budgets a source announces (Teams: about 4
 * requests a second on one team or channel, 20 a second on channel messages
 * for a tenant). A request names its buckets; it waits for a slot free in all
 * of them, and slots are handed out evenly spaced, so bursts never form. The
 * worker holds one (see SourceMemory): every activity of one worker shares it.
 */

export interface RateBucket {
  /** Requests sharing a key share the budget, e.g. `teams-channel:{team}/{channel}`. */
  key: string;
  perSecond: number;
}

const FORGET_AFTER_KEYS = 10_000;

/** Time as the limiter sees it: the real clock, or a test's. */
interface LimiterClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: LimiterClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

export class RequestRateLimiter {
  private readonly nextFree = new Map<string, number>();

  constructor(private readonly clock: LimiterClock = realClock) {}

  /** Resolves when the request may go; reserves its slot in every bucket. */
  async acquire(buckets: readonly RateBucket[], signal?: AbortSignal): Promise<void> {
    if (buckets.length === 0) return;
    const now = this.clock.now();
    let at = now;
    for (const bucket of buckets) at = Math.max(at, this.nextFree.get(bucket.key) ?? 0);
    for (const bucket of buckets) this.nextFree.set(bucket.key, at + 1000 / bucket.perSecond);
    if (this.nextFree.size > FORGET_AFTER_KEYS) this.forgetIdle(now);
    if (at > now) await this.clock.sleep(at - now, signal);
  }

  private forgetIdle(now: number): void {
    for (const [key, free] of this.nextFree) if (free < now) this.nextFree.delete(key);
  }
}
