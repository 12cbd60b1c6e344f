import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coalescer } from '../../activities/document-writes.js';

/** A write whose statements are recorded and held until released, one at a time. */
function heldWrites(refuse: (input: string) => boolean = () => false) {
  const statements: string[][] = [];
  const releases: Array<() => void> = [];
  const write = (inputs: string[]): Promise<string[]> => {
    statements.push(inputs);
    return new Promise<string[]>((resolve, reject) => {
      releases.push(() => (inputs.some(refuse) ? reject(new Error(`refused ${inputs.filter(refuse).join(',')}`)) : resolve(inputs.map((i) => `row of ${i}`))));
    });
  };
  /** Releases the oldest statement still held, once one has been sent. */
  const releaseNext = async () => {
    while (releases.length === 0) await new Promise((r) => setImmediate(r));
    (releases.shift() as () => void)();
  };
  return { statements, write, releaseNext };
}

describe('row writes of files in flight together', () => {
  it('the first write goes at once; those asked while it is on its way go together in the next statement, each getting its own row', async () => {
    const w = heldWrites();
    const rows = new Coalescer(w.write);
    const first = rows.run('a');
    while (w.statements.length === 0) await new Promise((r) => setImmediate(r));
    // Asked while the first statement is on its way.
    const rest = [rows.run('b'), rows.run('c'), rows.run('d')];
    expect(w.statements).toEqual([['a']]);
    await w.releaseNext();
    await expect(first).resolves.toBe('row of a');
    await w.releaseNext();
    await expect(Promise.all(rest)).resolves.toEqual(['row of b', 'row of c', 'row of d']);
    expect(w.statements).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('a statement refused for one row is tried again row by row: only that row fails', async () => {
    const w = heldWrites((input) => input === 'bad');
    const rows = new Coalescer(w.write);
    const asked = ['ok1', 'bad', 'ok2'].map((i) => rows.run(i));
    // The shared statement, then one per row.
    for (let i = 0; i < 4; i++) await w.releaseNext();
    const settled = await Promise.allSettled(asked);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'refused bad' });
    expect(w.statements).toEqual([['ok1', 'bad', 'ok2'], ['ok1'], ['bad'], ['ok2']]);
  });

  describe('with a linger (publication records nobody waits on)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('rows wait for the linger and then go in one statement; a full statement goes at once; flush sends the rest without waiting', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const w = heldWrites();
      const rows = new Coalescer(w.write, { lingerMs: 500, maxRows: 3 });
      const first = [rows.run('a'), rows.run('b')];
      await Promise.resolve();
      expect(w.statements).toEqual([]);
      vi.advanceTimersByTime(499);
      await Promise.resolve();
      expect(w.statements).toEqual([]);
      vi.advanceTimersByTime(1);
      await w.releaseNext();
      await expect(Promise.all(first)).resolves.toEqual(['row of a', 'row of b']);
      expect(w.statements).toEqual([['a', 'b']]);

      // maxRows waiting: the statement goes without the timer.
      const full = [rows.run('c'), rows.run('d'), rows.run('e')];
      await w.releaseNext();
      await expect(Promise.all(full)).resolves.toEqual(['row of c', 'row of d', 'row of e']);
      expect(w.statements).toEqual([['a', 'b'], ['c', 'd', 'e']]);

      const last = rows.run('f');
      const flushed = rows.flush();
      await w.releaseNext();
      await flushed;
      await expect(last).resolves.toBe('row of f');
      expect(w.statements).toEqual([['a', 'b'], ['c', 'd', 'e'], ['f']]);
      // Nothing left on a timer.
      expect(vi.getTimerCount()).toBe(0);
    });

    it('flush with nothing asked sends no statement', async () => {
      const w = heldWrites();
      const rows = new Coalescer(w.write, { lingerMs: 500 });
      await rows.flush();
      expect(w.statements).toEqual([]);
    });

    it('flush waits for a statement already on its way and sends what came meanwhile', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const w = heldWrites();
      const rows = new Coalescer(w.write, { lingerMs: 500 });
      const a = rows.run('a');
      vi.advanceTimersByTime(500);
      while (w.statements.length === 0) await new Promise((r) => setImmediate(r));
      const b = rows.run('b');
      let flushedAll = false;
      const flushed = rows.flush().then(() => (flushedAll = true));
      await w.releaseNext();
      await expect(a).resolves.toBe('row of a');
      expect(flushedAll).toBe(false);
      await w.releaseNext();
      await flushed;
      await expect(b).resolves.toBe('row of b');
      expect(w.statements).toEqual([['a'], ['b']]);
    });
  });
});
