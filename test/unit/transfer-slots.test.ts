import { describe, expect, it } from 'vitest';
import { TransferSlots } from '../../activities/transfer-slots.js';

/** A transfer the test finishes by hand, recording when it started. */
function heldTransfer(slots: TransferSlots, bytes: number, started: string[], name: string) {
  let finish!: () => void;
  const done = slots.run(
    () =>
      new Promise<string>((resolve) => {
        started.push(name);
        finish = () => resolve(name);
      }),
    bytes,
  );
  return { done, finish: () => finish() };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('transfer slots (files in flight and body bytes held per worker)', () => {
  it('runs at most `size` transfers at once', async () => {
    const slots = new TransferSlots(2);
    const started: string[] = [];
    const a = heldTransfer(slots, 0, started, 'a');
    const b = heldTransfer(slots, 0, started, 'b');
    const c = heldTransfer(slots, 0, started, 'c');
    await settle();
    expect(started).toEqual(['a', 'b']);
    expect(slots.busy).toBe(2);
    a.finish();
    await a.done;
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    b.finish();
    c.finish();
    await Promise.all([b.done, c.done]);
    expect(slots.busy).toBe(0);
  });

  it('keeps the bytes held within the budget, and releases them when a transfer ends', async () => {
    const slots = new TransferSlots(10, 10);
    const started: string[] = [];
    const a = heldTransfer(slots, 6, started, 'a');
    const b = heldTransfer(slots, 6, started, 'b');
    await settle();
    expect(started).toEqual(['a']);
    expect(slots.bytesHeld).toBe(6);
    a.finish();
    await a.done;
    await settle();
    expect(started).toEqual(['a', 'b']);
    expect(slots.bytesHeld).toBe(6);
    b.finish();
    await b.done;
    expect(slots.bytesHeld).toBe(0);
  });

  it('always lets one transfer run, even one larger than the whole budget', async () => {
    const slots = new TransferSlots(4, 10);
    const started: string[] = [];
    const huge = heldTransfer(slots, 50, started, 'huge');
    const small = heldTransfer(slots, 1, started, 'small');
    await settle();
    expect(started).toEqual(['huge']);
    huge.finish();
    await huge.done;
    await settle();
    expect(started).toEqual(['huge', 'small']);
    small.finish();
    await small.done;
  });

  it('serves waiters in order, so small files do not starve a large one', async () => {
    const slots = new TransferSlots(10, 10);
    const started: string[] = [];
    const first = heldTransfer(slots, 4, started, 'first');
    const large = heldTransfer(slots, 8, started, 'large');
    const small = heldTransfer(slots, 1, started, 'small');
    await settle();
    // 'small' would fit beside 'first', but 'large' asked before it.
    expect(started).toEqual(['first']);
    first.finish();
    await first.done;
    await settle();
    expect(started).toEqual(['first', 'large', 'small']);
    large.finish();
    small.finish();
    await Promise.all([large.done, small.done]);
    expect(slots.bytesHeld).toBe(0);
  });

  it('gives the slot back when a transfer fails', async () => {
    const slots = new TransferSlots(1, 10);
    await expect(slots.run(() => Promise.reject(new Error('boom')), 5)).rejects.toThrow('boom');
    expect(slots.busy).toBe(0);
    expect(slots.bytesHeld).toBe(0);
    await expect(slots.run(() => Promise.resolve('next'), 5)).resolves.toBe('next');
  });

  it('refuses a nonsensical size or budget', () => {
    expect(() => new TransferSlots(0)).toThrow(/positive integer/);
    expect(() => new TransferSlots(2, 0)).toThrow(/memory budget must be positive/);
  });
});
