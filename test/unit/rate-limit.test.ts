import { describe, expect, it } from 'vitest';
import { RequestRateLimiter } from '../../src/http/rate-limit.js';

describe('request-rate limiter', () => {
  it('spaces requests of one bucket evenly at its rate, and lets other buckets go at once', async () => {
    const limiter = new RequestRateLimiter();
    const bucket = [{ key: 'channel-a', perSecond: 10 }];
    const started = Date.now();
    const times: number[] = [];
    await Promise.all(Array.from({ length: 5 }, () => limiter.acquire(bucket).then(() => times.push(Date.now() - started))));
    times.sort((a, b) => a - b);
    // 5 requests at 10/s: the last waits about 400 ms, none goes earlier than its slot.
    expect(times[0]).toBeLessThan(50);
    expect(times[4]).toBeGreaterThanOrEqual(350);
    const other = Date.now();
    await limiter.acquire([{ key: 'channel-b', perSecond: 10 }]);
    expect(Date.now() - other).toBeLessThan(50);
  });

  it('a request in two buckets waits for the busier one, and takes a slot in both', async () => {
    const limiter = new RequestRateLimiter();
    const team = { key: 'team', perSecond: 5 };
    await limiter.acquire([team]);
    const started = Date.now();
    await limiter.acquire([team, { key: 'channel', perSecond: 5 }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    const next = Date.now();
    await limiter.acquire([{ key: 'channel', perSecond: 5 }]);
    expect(Date.now() - next).toBeGreaterThanOrEqual(150);
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
