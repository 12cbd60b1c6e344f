/**
 * Transfers in flight on one worker, across every sync and batch it runs: a
 * counting semaphore the worker creates once (WORKER_TRANSFER_CONCURRENCY).
 */
export class TransferSlots {
  private inUse = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`transfer slots must be a positive integer, got ${size}`);
  }

  get busy(): number {
    return this.inUse;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inUse >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inUse++;
    try {
      return await work();
    } finally {
      const wake = this.waiting.shift();
      if (wake) wake();
      else this.inUse--;
    }
  }
}
