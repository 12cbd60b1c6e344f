/**
 * Transfers in flight on one worker, across every sync and batch it runs: a
 * counting semaphore the worker creates once (WORKER_TRANSFER_CONCURRENCY),
 * which also bounds the bytes of file bodies held in memory at once
 * (WORKER_TRANSFER_MEMORY_MIB). Each transfer says how many bytes it may hold
 * (its size, up to one upload part); one transfer always runs, however large.
 * Waiters are served in order, so a large file is not starved by small ones.
 */
export class TransferSlots {
  private inUse = 0;
  private bytesInUse = 0;
  private readonly waiting: Array<{ bytes: number; start: () => void }> = [];

  constructor(
    readonly size: number,
    readonly byteBudget = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`transfer slots must be a positive integer, got ${size}`);
    if (!(byteBudget > 0)) throw new Error(`the transfer memory budget must be positive, got ${byteBudget}`);
  }

  get busy(): number {
    return this.inUse;
  }

  get bytesHeld(): number {
    return this.bytesInUse;
  }

  async run<T>(work: () => Promise<T>, bytes = 0): Promise<T> {
    if (this.waiting.length === 0 && this.fits(bytes)) this.take(bytes);
    else await new Promise<void>((start) => this.waiting.push({ bytes, start }));
    try {
      return await work();
    } finally {
      this.inUse--;
      this.bytesInUse -= bytes;
      this.startWaiting();
    }
  }

  private fits(bytes: number): boolean {
    return this.inUse < this.size && (this.inUse === 0 || this.bytesInUse + bytes <= this.byteBudget);
  }

  private take(bytes: number): void {
    this.inUse++;
    this.bytesInUse += bytes;
  }

  private startWaiting(): void {
    for (let next = this.waiting[0]; next !== undefined && this.fits(next.bytes); next = this.waiting[0]) {
      this.waiting.shift();
      this.take(next.bytes);
      next.start();
    }
  }
}
