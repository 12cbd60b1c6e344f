/**
 * How an emulator's push messages reach a subscriber's endpoint, with the delivery faults both
 * clouds allow: late, twice, out of order, or never. Graph promises neither order nor one delivery
 * per change: it retries a failed delivery and drops what it could not deliver
 * (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks), and its
 * `missed` lifecycle event exists because some notifications are lost
 * (https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events). Drive:
 * "Notifications are not 100% reliable. Expect a small percentage of messages to get dropped
 * under normal working conditions" (https://developers.google.com/workspace/drive/api/guides/push).
 * Retries are not modelled: a failed delivery is recorded and lost, the worst case of both.
 *
 * Test API (`emulator.push` exposes one PushOutbox as `outbox`, and forwards these):
 * - `configure({ delayMs, duplicates, reorderWindow, lossRate, seed, dropAll })`: faults for the
 *   messages sent from then on. Loss draws from a PRNG seeded by `seed`, so one seed always loses
 *   the same messages. `reorderWindow: n` holds messages until n are waiting, then sends them
 *   newest first (`flush()` sends what is held, in the same reversed order).
 * - `delivered`: every message that reached the endpoint (or failed to), in send order, with the
 *   status it got; `dropped`: those the faults swallowed.
 * - `settled()`: resolves once every message sent so far has been answered (or timed out).
 */

export type PushMessageKind = 'notification' | 'lifecycle' | 'sync' | 'change';

export interface PushMessage {
  kind: PushMessageKind;
  url: string;
  headers: Record<string, string>;
  /** JSON text for Graph; Drive's messages have no body. */
  body?: string;
  /** The Graph subscription or Drive channel it belongs to. */
  subscriptionId: string;
}

export interface PushDelivery extends PushMessage {
  /** The endpoint's status; 0 when it could not be reached or did not answer in time. */
  status: number;
  /** Why a delivery failed (connection refused, timeout). */
  error?: string;
  /** How long the endpoint took to answer: Graph slows down, then drops, endpoints that answer late. */
  answeredInMs?: number;
}

export interface PushFaults {
  /** Every message waits this long before it is sent. */
  delayMs: number;
  /** Each message is sent this many extra times, right after itself. */
  duplicates: number;
  /** Messages are held until this many wait, then sent newest first (1: in order). */
  reorderWindow: number;
  /** Share of messages lost, drawn from the seeded PRNG (0 to 1). */
  lossRate: number;
  seed: number;
  /** Nothing reaches the endpoint. */
  dropAll: boolean;
}

const NO_FAULTS: PushFaults = { delayMs: 0, duplicates: 0, reorderWindow: 1, lossRate: 0, seed: 1, dropAll: false };

/** mulberry32: small, fast and fully determined by its seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class PushOutbox {
  faults: PushFaults = { ...NO_FAULTS };
  readonly delivered: PushDelivery[] = [];
  readonly dropped: PushMessage[] = [];
  /** How long an endpoint may take to answer one message before it counts as failed. */
  answerTimeoutMs = 10_000;
  private random = seeded(NO_FAULTS.seed);
  private held: Array<{ message: PushMessage; dueAt: number }> = [];
  /** Messages go out one after another, so their order is the send order (or the reordering's). */
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  /** Bumped by reset: messages of an earlier test still queued are not sent into the next one. */
  private generation = 0;

  configure(faults: Partial<PushFaults>): void {
    this.faults = { ...this.faults, ...faults };
    if (faults.seed !== undefined) this.random = seeded(faults.seed);
  }

  send(message: PushMessage): void {
    const { dropAll, lossRate, duplicates, reorderWindow, delayMs } = this.faults;
    if (dropAll || (lossRate > 0 && this.random() < lossRate)) {
      this.dropped.push(message);
      return;
    }
    const dueAt = Date.now() + delayMs;
    for (let copy = 0; copy <= duplicates; copy++) this.held.push({ message, dueAt });
    if (this.held.length >= reorderWindow) this.release(reorderWindow > 1);
  }

  /** Sends what the reordering holds. */
  flush(): void {
    this.release(this.faults.reorderWindow > 1);
  }

  /** Resolves once every message sent so far has been answered, refused or timed out. */
  async settled(): Promise<void> {
    // Changes notify once the step that made them is over (a microtask), Drive's sync message a turn later.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending > 0) await this.queue;
  }

  reset(): void {
    this.generation++;
    this.faults = { ...NO_FAULTS };
    this.random = seeded(NO_FAULTS.seed);
    this.held = [];
    this.delivered.length = 0;
    this.dropped.length = 0;
  }

  private release(reversed: boolean): void {
    const batch = reversed ? this.held.reverse() : this.held;
    this.held = [];
    const generation = this.generation;
    for (const { message, dueAt } of batch) {
      this.pending++;
      this.queue = this.queue.then(() => (generation === this.generation ? this.deliver(message, dueAt) : undefined)).finally(() => this.pending--);
    }
  }

  private async deliver(message: PushMessage, dueAt: number): Promise<void> {
    const wait = dueAt - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const record: PushDelivery = { ...message, status: 0 };
    this.delivered.push(record);
    const started = performance.now();
    try {
      const response = await fetch(message.url, {
        method: 'POST',
        headers: message.headers,
        ...(message.body !== undefined ? { body: message.body } : {}),
        signal: AbortSignal.timeout(this.answerTimeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      record.status = response.status;
      record.answeredInMs = Math.round(performance.now() - started);
    } catch (e) {
      record.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
  }
}

/**
 * What both emulators' push share: the outbox with its faults and log, a test clock, and the
 * changes of one synchronous step gathered into one round of notifications (`notifyChanges`).
 */
export abstract class PushEmulator {
  readonly outbox = new PushOutbox();
  clock: () => number = () => Date.now();
  private flushScheduled = false;

  configure(faults: Partial<PushFaults>): void {
    this.outbox.configure(faults);
  }

  get delivered() {
    return this.outbox.delivered;
  }

  get dropped() {
    return this.outbox.dropped;
  }

  flush(): void {
    this.outbox.flush();
  }

  settled(): Promise<void> {
    return this.outbox.settled();
  }

  reset(): void {
    this.outbox.reset();
    this.clock = () => Date.now();
  }

  /** Notifies once the current step of changes is over (a move or a bulk delete is one step). */
  protected scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.notifyChanges();
    });
  }

  protected abstract notifyChanges(): void;
}
