import type { ServerResponse } from 'node:http';

/**
 * Holds an emulator's matching requests (downloads) until a test lets them
 * through, so a test orders the service's progress explicitly instead of timing
 * it: `shut()`, then `allow(n)` lets n more through, `open()` lets all through.
 * A held request whose client hangs up (a killed worker) stops counting.
 */
export class RequestGate {
  private permits = Number.POSITIVE_INFINITY;
  private readonly held = new Set<() => void>();

  constructor(readonly matches: (method: string, url: URL) => boolean) {}

  /** From now on every matching request waits for a permit. */
  shut(): void {
    this.permits = 0;
  }

  /** Lets `n` more matching requests through. */
  allow(n: number): void {
    this.permits += n;
    this.drain();
  }

  /** Lets every matching request through, now and later. */
  open(): void {
    this.permits = Number.POSITIVE_INFINITY;
    this.drain();
  }

  /** Permits not used yet. */
  get unused(): number {
    return this.permits;
  }

  /** Matching requests waiting for a permit now. */
  get waiting(): number {
    return this.held.size;
  }

  /** Resolves when the request may be answered (at once if it does not match or a permit is left). */
  async pass(method: string, url: URL, res: ServerResponse): Promise<void> {
    if (!this.matches(method, url)) return;
    if (this.permits > 0) {
      this.permits--;
      return;
    }
    await new Promise<void>((resolve) => {
      const go = () => {
        this.held.delete(go);
        res.off('close', go);
        resolve();
      };
      this.held.add(go);
      // The client hung up: answering it is pointless, and it no longer holds the sync.
      res.once('close', go);
    });
  }

  private drain(): void {
    for (const go of [...this.held]) {
      if (this.permits <= 0) return;
      this.permits--;
      go();
    }
  }
}
