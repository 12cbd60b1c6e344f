import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { Counters } from '../../src/metrics.js';
import { PushSignals } from '../../src/push/push-signals.js';

/** Debounce by hand: the test closes each window itself, so nothing depends on timing. */
function harness() {
  const requests: number[] = [];
  const windows: Array<() => void> = [];
  const signals = new PushSignals({
    request: (connectorId) => {
      requests.push(connectorId);
      return Promise.resolve();
    },
    windowMs: 2000,
    logger: createLogger('silent'),
    counters: new Counters(),
    schedule: (fn) => {
      windows.push(fn);
      return () => undefined;
    },
  });
  const closeWindows = async () => {
    await signals.settled();
    for (const close of windows.splice(0)) close();
    await signals.settled();
  };
  return { signals, requests, closeWindows };
}

describe('push notifications become sync requests, debounced per connector', () => {
  it('a burst of 1,000 notifications for one connector makes two requests: one at once, one when the window closes', async () => {
    const { signals, requests, closeWindows } = harness();
    for (let i = 0; i < 1000; i++) signals.notify(7);
    await signals.settled();
    expect(requests).toEqual([7]);
    await closeWindows();
    expect(requests).toEqual([7, 7]);
    // The second request opened a window of its own, with nothing more in it.
    await closeWindows();
    expect(requests).toEqual([7, 7]);
  });

  it('a lone notification makes one request; connectors are debounced apart', async () => {
    const { signals, requests, closeWindows } = harness();
    signals.notify(7);
    signals.notify(8);
    await closeWindows();
    expect(requests.sort()).toEqual([7, 8]);
  });
});
