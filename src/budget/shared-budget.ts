import type { BudgetClock } from './budget-clock.js';
import { systemClock } from './budget-clock.js';
import type { BudgetTable } from './budget-table.js';
import type { Charge, GrantPriority, QuotaBucket, RequestBudget } from './quotas.js';

/**
 * A tenant's request budgets shared by every worker replica through PostgreSQL
 * (BudgetTable), with a small lease per worker so most requests cost no round trip.
 *
 * Why no window ever overspends: a bucket holds at most `capacity` units and
 * refills at (limit − capacity) / (window + lease) per millisecond, and a leased
 * unit is spent within `lease` of its draw or dropped (the lease counts from
 * before the draw was sent, so never later than that). So the units spent in any
 * window were drawn in a span of window + lease: at most capacity + (limit −
 * capacity) = limit. The defaults (a 2 % burst, a 1 s lease) use 0.98 × 60 / 61
 * ≈ 96 % of a minute's units. A worker that dies holding a lease loses at most
 * its lease (a few units), and the bucket refills by time whoever died.
 *
 * Fairness: waiters of one bucket on this worker are served by priority, then in
 * arrival order; and a backfill's draw must leave `reserve` units in the shared
 * bucket, so an incremental or operator sync on any replica finds them first.
 */

export interface SharedBudgetOptions {
  table: BudgetTable;
  clock?: BudgetClock;
  /** Units one worker leases at a time when the bucket has them (default 10). */
  leaseUnits?: number;
  /** How long leased units may be spent (default 1 s, at most a twentieth of a bucket's window). */
  leaseMs?: number;
  /** Share of a window's limit the bucket may hold at once (default 2 %). */
  burstShare?: number;
  /** Share of the bucket a backfill leaves for other syncs (default half). */
  backfillReserveShare?: number;
}

interface BucketShape {
  capacity: number;
  refillPerMs: number;
  leaseMs: number;
  backfillReserve: number;
}

interface Lot {
  units: number;
  expiresAt: number;
}

interface Waiter {
  units: number;
  priority: GrantPriority;
  seq: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface BucketLine {
  bucket: QuotaBucket;
  lots: Lot[];
  waiters: Waiter[];
  pumping: boolean;
}

const RANK: Record<GrantPriority, number> = { interactive: 0, backfill: 1 };
/** Re-check a short bucket at least this often, and at most this rarely. */
const MIN_WAIT_MS = 5;
const MAX_WAIT_MS = 1_000;
const FORGET_AFTER_LINES = 10_000;
/** The most units one request costs: a SharePoint permissions call. */
const LARGEST_CHARGE = 5;

/** The shape of every bucket unless told otherwise: a 2 % burst, a 1 s lease, half the burst kept from backfills. */
export const DEFAULT_SHAPE = { leaseMs: 1_000, burstShare: 0.02, backfillReserveShare: 0.5 } as const;

export function bucketShape(bucket: QuotaBucket, opts: { leaseMs: number; burstShare: number; backfillReserveShare: number }): BucketShape {
  const leaseMs = Math.min(opts.leaseMs, bucket.windowMs / 20);
  // The burst holds one request of the largest cost SharePoint documents (5 units) where the limit is 20 times that;
  // a request costing more than the burst is still granted (drawFor), at the price of the window's bound.
  const burst = Math.max(Math.ceil(bucket.limit * opts.burstShare), Math.min(LARGEST_CHARGE, Math.floor(bucket.limit / 20)));
  const capacity = Math.max(1, Math.min(burst, bucket.limit - 1));
  const refillPerMs = Math.max(bucket.limit - capacity, 0.5) / (bucket.windowMs + leaseMs);
  return { capacity, refillPerMs, leaseMs, backfillReserve: Math.floor(capacity * opts.backfillReserveShare) };
}

export class SharedRequestBudget implements RequestBudget {
  private readonly lines = new Map<string, BucketLine>();
  private readonly clock: BudgetClock;
  private readonly leaseUnits: number;
  private readonly shapeOptions: { leaseMs: number; burstShare: number; backfillReserveShare: number };
  private seq = 0;

  constructor(private readonly options: SharedBudgetOptions) {
    this.clock = options.clock ?? systemClock;
    this.leaseUnits = options.leaseUnits ?? 10;
    this.shapeOptions = {
      leaseMs: options.leaseMs ?? DEFAULT_SHAPE.leaseMs,
      burstShare: options.burstShare ?? DEFAULT_SHAPE.burstShare,
      backfillReserveShare: options.backfillReserveShare ?? DEFAULT_SHAPE.backfillReserveShare,
    };
  }

  /**
   * Resolves when the request may go, its units taken from every bucket it
   * charges. Units taken first must still be in their lease once the last
   * bucket granted; otherwise they are taken again (over-charging is safe).
   */
  async take(charges: readonly Charge[], priority: GrantPriority, signal?: AbortSignal): Promise<void> {
    const [first, ...rest] = charges;
    if (!first) return;
    for (let round = 0; round < 3; round++) {
      await this.takeOne(first, priority, signal);
      const firstTakenAt = this.clock.localNow();
      for (const charge of rest) await this.takeOne(charge, priority, signal);
      if (this.clock.localNow() - firstTakenAt <= this.shape(first.bucket).leaseMs) return;
    }
  }

  /**
   * The most units every replica together can spend from `bucket` in any span of
   * `ms`: they were drawn within ms + lease, so at most the burst plus that
   * span's refill (exactly the limit for a whole window).
   */
  mostSpent(bucket: QuotaBucket, ms: number): number {
    const shape = this.shape(bucket);
    return shape.capacity + shape.refillPerMs * (Math.max(0, ms) + shape.leaseMs);
  }

  /** After a 429: this worker's leases of those buckets are dropped, and the shared buckets owe `ms` of refill. */
  async holdOff(charges: readonly Charge[], ms: number): Promise<void> {
    for (const { bucket } of charges) {
      const line = this.lines.get(bucket.key);
      if (line) line.lots = [];
      await this.options.table.holdOff(bucket.key, ms, this.clock.now());
    }
  }

  /** Gives back the unspent units of this worker's leases (at shutdown). */
  async close(): Promise<void> {
    const now = this.clock.localNow();
    for (const line of this.lines.values()) {
      const units = line.lots.filter((l) => l.expiresAt > now).reduce((n, l) => n + l.units, 0);
      line.lots = [];
      await this.options.table.giveBack(line.bucket.key, units);
    }
  }

  private shape(bucket: QuotaBucket): BucketShape {
    return bucketShape(bucket, this.shapeOptions);
  }

  private takeOne(charge: Charge, priority: GrantPriority, signal?: AbortSignal): Promise<void> {
    if (charge.units <= 0) return Promise.resolve();
    signal?.throwIfAborted();
    const line = this.lineFor(charge.bucket);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { units: charge.units, priority, seq: this.seq++, resolve, reject };
      const at = line.waiters.findIndex((w) => RANK[w.priority] > RANK[priority]);
      line.waiters.splice(at === -1 ? line.waiters.length : at, 0, waiter);
      if (signal) {
        const onAbort = (): void => {
          const i = line.waiters.indexOf(waiter);
          if (i >= 0) line.waiters.splice(i, 1);
          reject(signal.reason instanceof Error ? signal.reason : new Error('the request was cancelled while waiting for its budget'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const settle = waiter.resolve;
        waiter.resolve = () => {
          signal.removeEventListener('abort', onAbort);
          settle();
        };
      }
      void this.pump(line);
    });
  }

  private lineFor(bucket: QuotaBucket): BucketLine {
    let line = this.lines.get(bucket.key);
    if (!line) {
      if (this.lines.size > FORGET_AFTER_LINES) this.forgetIdle();
      line = { bucket, lots: [], waiters: [], pumping: false };
      this.lines.set(bucket.key, line);
    }
    line.bucket = bucket; // a changed limit applies from the next draw
    return line;
  }

  /** Serves one bucket's waiters, best first; only one pump per bucket draws at a time. */
  private async pump(line: BucketLine): Promise<void> {
    if (line.pumping) return;
    line.pumping = true;
    try {
      for (let head = line.waiters[0]; head; head = line.waiters[0]) {
        if (this.takeLeased(line, head.units)) {
          line.waiters.shift();
          head.resolve();
          continue;
        }
        const waitMs = await this.drawFor(line, head);
        if (waitMs > 0) await this.clock.sleep(waitMs);
      }
    } catch (e) {
      const failure = new Error(`the request budget ${line.bucket.key} shared in PostgreSQL could not be drawn from: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      for (const w of line.waiters.splice(0)) w.reject(failure);
    } finally {
      line.pumping = false;
    }
  }

  /** Draws a lease from the shared bucket; returns how long to wait when it was short. */
  private async drawFor(line: BucketLine, head: Waiter): Promise<number> {
    const shape = this.shape(line.bucket);
    const need = Math.max(0, head.units - this.leased(line));
    // A bucket holds at least one request's cost, and a backfill's reserve never makes its request ungrantable.
    const capacity = Math.max(shape.capacity, need);
    const reserve = head.priority === 'backfill' ? Math.min(shape.backfillReserve, capacity - need) : 0;
    // The lease runs from before the draw is sent: never later than PostgreSQL's time of the grant.
    const drawnBy = this.clock.localNow();
    const grant = await this.options.table.draw({
      key: line.bucket.key,
      capacity,
      refillPerMs: shape.refillPerMs,
      need,
      want: Math.max(need, this.leaseUnits),
      reserve,
      nowMs: this.clock.now(),
    });
    if (grant.granted > 0) {
      line.lots.push({ units: grant.granted, expiresAt: drawnBy + shape.leaseMs });
      return 0;
    }
    // Short: wait until the bucket holds this worker's whole queue (up to a quarter of the burst, so the
    // bucket stays clear of its cap while the replicas sleep), not only the head's units: a busy worker then
    // draws several requests' units at once instead of racing the other replicas for each one.
    const queued = line.waiters.reduce((n, w) => n + w.units, 0) - this.leased(line);
    const target = Math.max(need, Math.min(queued, Math.floor(capacity / 4)));
    const missing = target + reserve - grant.left;
    return Math.min(MAX_WAIT_MS, Math.max(MIN_WAIT_MS, Math.ceil(missing / shape.refillPerMs)));
  }

  private leased(line: BucketLine): number {
    const now = this.clock.localNow();
    line.lots = line.lots.filter((l) => l.expiresAt > now);
    return line.lots.reduce((n, l) => n + l.units, 0);
  }

  /** Spends `units` from this worker's unexpired leases, oldest first, if they hold enough. */
  private takeLeased(line: BucketLine, units: number): boolean {
    if (this.leased(line) < units) return false;
    let left = units;
    for (const lot of line.lots) {
      const used = Math.min(lot.units, left);
      lot.units -= used;
      left -= used;
      if (left === 0) break;
    }
    line.lots = line.lots.filter((l) => l.units > 0);
    return true;
  }

  private forgetIdle(): void {
    for (const [key, line] of this.lines) if (!line.pumping && line.waiters.length === 0 && this.leased(line) === 0) this.lines.delete(key);
  }
}
