import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { Counters } from '../../src/metrics.js';
import { PushSignals } from '../../src/push/push-signals.js';

/** Debounce by hand: the test moves the clock and fires each scheduled close itself, so nothing depends on timing. */
function harness() {
  const requests: number[] = [];
  let scheduled: Array<{ at: number; fn: () => void }> = [];
  const clock = { now: 0 };
  const signals = new PushSignals({
    request: (connectorId) => {
      requests.push(connectorId);
      return Promise.resolve();
    },
    windowMs: 2000,
    maxWaitMs: 30_000,
    logger: createLogger('silent'),
    counters: new Counters(),
    now: () => clock.now,
    schedule: (fn, ms) => {
      const entry = { at: clock.now + ms, fn };
      scheduled.push(entry);
      return () => (scheduled = scheduled.filter((s) => s !== entry));
    },
  });
  /** Moves the clock to `at`, firing every close due by then in order. */
  const advanceTo = async (at: number) => {
    for (;;) {
      await signals.settled();
      const due = scheduled.filter((s) => s.at <= at).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      scheduled = scheduled.filter((s) => s !== due);
      clock.now = due.at;
      due.fn();
    }
    clock.now = at;
    await signals.settled();
  };
  return { signals, requests, clock, advanceTo };
}

describe('push notifications become sync requests, debounced per connector', () => {
  it('a burst of 1,000 notifications for one connector makes two requests: one at once, one when the burst is over', async () => {
    const { signals, requests, clock, advanceTo } = harness();
    // The burst arrives over ten seconds, one notification every 10 ms.
    for (let i = 0; i < 1000; i++) {
      await advanceTo(i * 10);
      signals.notify(7);
    }
    expect(requests).toEqual([7]);
    await advanceTo(clock.now + 1999);
    expect(requests).toEqual([7]);
    await advanceTo(clock.now + 1);
    expect(requests).toEqual([7, 7]);
    // Nothing more came: the window the second request opened closes empty.
    await advanceTo(clock.now + 60_000);
    expect(requests).toEqual([7, 7]);
  });

  it('a steady stream still gets a request every maxWaitMs', async () => {
    const { signals, requests, advanceTo } = harness();
    for (let t = 0; t <= 61_000; t += 500) {
      await advanceTo(t);
      signals.notify(7);
    }
    expect(requests.length).toBe(3);
  });

  it('a lone notification makes one request; connectors are debounced apart', async () => {
    const { signals, requests, advanceTo } = harness();
    signals.notify(7);
    signals.notify(8);
    await advanceTo(10_000);
    expect(requests.sort()).toEqual([7, 8]);
  });
});
