import { describe, expect, it } from 'vitest';
import { RequestRateLimiter } from '../../src/http/rate-limit.js';

describe('request-rate limiter', () => {
  /** A clock that only moves when a request sleeps: each sleep is recorded with the time it was asked at. */
  function testClock() {
    let now = 1_000_000;
    const sleeps: Array<{ at: number; ms: number }> = [];
    return {
      sleeps,
      now: () => now,
      advance: (ms: number) => {
        now += ms;
      },
      sleep: (ms: number) => {
        sleeps.push({ at: now, ms });
        return Promise.resolve();
      },
    };
  }

  it('spaces requests of one bucket evenly at its rate, and lets other buckets go at once', async () => {
    const clock = testClock();
    const limiter = new RequestRateLimiter(clock);
    const bucket = [{ key: 'channel-a', perSecond: 10 }];
    // 5 requests at the same moment, 10/s: the first goes at once, the others 100, 200, 300 and 400 ms later.
    await Promise.all(Array.from({ length: 5 }, () => limiter.acquire(bucket)));
    expect(clock.sleeps.map((s) => s.ms)).toEqual([100, 200, 300, 400]);
    // Another bucket at the same moment does not wait behind them.
    await limiter.acquire([{ key: 'channel-b', perSecond: 10 }]);
    expect(clock.sleeps).toHaveLength(4);
    // Once the slots have passed, the first bucket is free again.
    clock.advance(500);
    await limiter.acquire(bucket);
    expect(clock.sleeps).toHaveLength(4);
  });

  it('a request in two buckets waits for the busier one, and takes a slot in both', async () => {
    const clock = testClock();
    const limiter = new RequestRateLimiter(clock);
    const team = { key: 'team', perSecond: 5 };
    await limiter.acquire([team]);
    await limiter.acquire([team, { key: 'channel', perSecond: 5 }]);
    // The team's next slot is 200 ms away; the channel was free, but the request waits for both.
    expect(clock.sleeps.map((s) => s.ms)).toEqual([200]);
    await limiter.acquire([{ key: 'channel', perSecond: 5 }]);
    // The channel's slot was taken at +200 ms: the next one is 400 ms from now.
    expect(clock.sleeps.map((s) => s.ms)).toEqual([200, 400]);
  });

  it('stops waiting when the request is cancelled', async () => {
    const limiter = new RequestRateLimiter();
    const bucket = [{ key: 'slow', perSecond: 0.5 }];
    await limiter.acquire(bucket);
    const abort = new AbortController();
    const waiting = limiter.acquire(bucket, abort.signal);
    abort.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });
});
