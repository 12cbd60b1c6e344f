import { describe, expect, it } from 'vitest';
import { noteThrottleWait, withThrottleReport, withThrottleTally } from '../../src/telemetry/throttle-tally.js';

describe('throttle waits of one activity, handed to the workflow with its result', () => {
  it('counts the waits noted while the activity runs, with the latest end, and nothing outside one', async () => {
    noteThrottleWait(5000); // outside an activity: ignored
    const { result, tally } = await withThrottleTally(async () => {
      noteThrottleWait(2000, Date.parse('2026-12-01T16:52:00Z'));
      await new Promise((r) => setTimeout(r, 1));
      noteThrottleWait(1500, Date.parse('2026-12-01T16:52:10Z'));
      return 'done';
    });
    expect(result).toBe('done');
    expect(tally).toEqual({ waits: 2, waitedMs: 3500, until: '2026-12-01T16:52:11.500Z' });
  });

  it('rides on a page or an outcome, on the first outcome of a batch, and leaves a result with no wait alone', () => {
    const tally = { waits: 1, waitedMs: 1000, until: '2026-12-01T16:52:10.000Z' };
    expect(withThrottleReport({ hasMore: false }, tally)).toEqual({ hasMore: false, throttle: tally });
    expect(withThrottleReport([{ sourceId: 'a' }, { sourceId: 'b' }], tally)).toEqual([{ sourceId: 'a', throttle: tally }, { sourceId: 'b' }]);
    expect(withThrottleReport({ hasMore: true }, { waits: 0, waitedMs: 0 })).toEqual({ hasMore: true });
    expect(withThrottleReport(3, tally)).toBe(3);
    expect(withThrottleReport([], tally)).toEqual([]);
  });
});
