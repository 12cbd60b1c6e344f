import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import type { GrantPriority, QuotaBucket } from '../../src/budget/quotas.js';
import { bucketShape, DEFAULT_SHAPE, SharedRequestBudget } from '../../src/budget/shared-budget.js';
import { SourceQuotas } from '../../src/budget/source-quotas.js';
import { createDatabase, migrateToLatest } from '../../src/db/database.js';
import { isRetryLater } from '../../src/errors.js';
import { RequestRateLimiter } from '../../src/http/rate-limit.js';
import { SourceHttp } from '../../src/http/source-http.js';
import { TenantPauses } from '../../src/http/tenant-pauses.js';
import { graphClient, type GraphClient } from '../../src/providers/microsoft-graph/client.js';
import { SourceMemory } from '../../src/providers/source-memory.js';
import { DEFAULT_USER, startDriveEmulator } from '../emulators/drive/index.js';
import { EMULATOR_CLIENT_ID, EMULATOR_TENANT, startGraphEmulator, type GraphEmulator } from '../emulators/graph/index.js';
import { ManualClock } from '../support/manual-clock.js';
import { testConfig } from '../support/integration.js';
import { connectorRow, memorySourceContext } from '../support/memory-source-context.js';

/**
 * One tenant's budget shared by two workers through PostgreSQL. Each "worker" is
 * its own SourceMemory and SharedRequestBudget (as two processes would hold
 * them) on one database. Time is a ManualClock shared with the emulator's quota
 * windows: it moves only when every worker waits on it, so the test counts
 * units per window and never measures durations.
 */

const config = testConfig();
const db = createDatabase(config.databaseUrl, 4);
const table = new BudgetTable(db);
let graph: GraphEmulator;
/** The connections of the workers' SourceHttp built here by hand (a worker's SourceMemory holds its own). */
const connections = new Agent();

beforeAll(async () => {
  await migrateToLatest(db);
  graph = await startGraphEmulator();
});
afterAll(async () => {
  await connections.close();
  await graph.close();
  await db.destroy();
});
beforeEach(async () => {
  graph.reset();
  // Each test's clock starts at the same instant: buckets left by an earlier run would look refilled in its future.
  await sql`delete from connector_sync.request_budgets`.execute(db);
});

const WINDOW_MS = 10_000;

function worker(clock: ManualClock, unitsPerWindow: number, shared: boolean, priority: GrantPriority = 'interactive'): GraphClient {
  const quotas = new SourceQuotas({
    sharePoint: { defaultLicenses: 0, tenantLicenses: {}, tenantUnitsPerMinute: { [EMULATOR_TENANT]: unitsPerWindow } },
    drive: { queriesPerMinute: 1, queriesPerMinutePerUser: 1 },
    windowMs: WINDOW_MS,
  });
  const memory = new SourceMemory({ quotas, ...(shared ? { budget: new SharedRequestBudget({ table, clock }) } : {}) });
  const ctx = memorySourceContext(connectorRow(), { memory, http: { budget: memory.budget, priority } });
  return graphClient(ctx, graph.settings);
}

/** Drive calls of 2, 1 and 2 resource units (children, one item, a delta without a token), `count` of them. */
async function crawl(client: GraphClient, count: number, itemId: string): Promise<void> {
  const drive = `${client.baseUrl}/drives/${graph.drive.id}`;
  const calls = [`${drive}/root/children`, `${drive}/items/${itemId}`, `${drive}/root/delta`];
  for (let i = 0; i < count; i++) await client.http.json(calls[i % calls.length] ?? '');
}

/** Runs the workers' crawls, moving the clock to the next wake-up whenever all of them wait on it. */
async function runOnClock(clock: ManualClock, crawls: Array<() => Promise<void>>): Promise<void> {
  let running = crawls.length;
  const done = Promise.all(
    crawls.map(async (crawlOnce) => {
      try {
        await crawlOnce();
      } finally {
        running--;
        clock.poke();
      }
    }),
  );
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  for (;;) {
    await clock.until(() => running === 0 || clock.sleeping === running);
    if (running === 0) break;
    clock.advanceToNext();
  }
  expect(finished || running === 0).toBe(true);
  await done;
}

/** Awaits `work`, moving the clock to its next wake-up whenever something waits on it. */
async function settleOnClock<T>(clock: ManualClock, work: Promise<T>): Promise<T> {
  let settled = false;
  void work
    .finally(() => {
      settled = true;
      clock.poke();
    })
    .catch(() => undefined);
  while (!settled) {
    await clock.until(() => clock.sleeping > 0 || settled);
    clock.advanceToNext();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return work;
}

describe('one tenant, two workers, one budget', () => {
  it('never spends more resource units in a window than the tenant has, and gets no 429', async () => {
    const clock = new ManualClock();
    const budget = 40;
    Object.assign(graph.quota.settings, { enforce: true, unitsPerWindow: budget, windowMs: WINDOW_MS, clock: () => clock.now(), headersFromShare: Number.POSITIVE_INFINITY });
    const file = graph.addFile(graph.drive.rootId, 'a.txt', 'hello');
    const a = worker(clock, budget, true);
    const b = worker(clock, budget, true);

    await runOnClock(clock, [() => crawl(a, 45, file.id), () => crawl(b, 45, file.id)]);

    const perWindow = graph.quota.unitsPerWindow(EMULATOR_CLIENT_ID);
    expect(graph.quota.throttled).toBe(0);
    // 90 calls of 5/3 units on average: 150 units, so at least four windows were used.
    expect(perWindow.reduce((n, u) => n + u, 0)).toBe(150);
    expect(perWindow.length).toBeGreaterThanOrEqual(4);
    for (const units of perWindow) expect(units).toBeLessThanOrEqual(budget);
    // Both workers drew from it: each made all its calls.
    expect(graph.requestCount(/\/drives\//)).toBe(90);
  });

  it('without the shared budget the same two workers overspend the window and are throttled', async () => {
    const clock = new ManualClock();
    const budget = 40;
    Object.assign(graph.quota.settings, { enforce: true, unitsPerWindow: budget, windowMs: WINDOW_MS, clock: () => clock.now(), headersFromShare: Number.POSITIVE_INFINITY });
    const file = graph.addFile(graph.drive.rootId, 'a.txt', 'hello');
    const a = worker(clock, budget, false);
    const b = worker(clock, budget, false);

    const outcomes = await Promise.allSettled([crawl(a, 45, file.id), crawl(b, 45, file.id)]);

    expect(graph.quota.throttled).toBeGreaterThan(0);
    expect(graph.quota.unitsPerWindow(EMULATOR_CLIENT_ID)[0]).toBeGreaterThan(budget);
    expect(outcomes.some((o) => o.status === 'rejected' && isRetryLater(o.reason))).toBe(true);
  });
});

describe('a worker that dies holding a lease', () => {
  const bucket = (): QuotaBucket => ({ key: `test-budget:${randomUUID()}`, limit: 400, windowMs: WINDOW_MS });
  const one = (b: QuotaBucket) => [{ bucket: b, units: 1 }];

  it('costs the tenant its lease only until the bucket refills; a worker that stops gives its lease back', async () => {
    const clock = new ManualClock();
    const b = bucket();
    const shape = bucketShape(b, DEFAULT_SHAPE);
    expect(shape.capacity).toBe(8); // 2 % of 400

    // Worker A takes one unit, leasing 5, and dies: it never spends or returns the other 4.
    await new SharedRequestBudget({ table, clock, leaseUnits: 5 }).take(one(b), 'interactive');
    const afterDeath = await table.draw({ key: b.key, capacity: shape.capacity, refillPerMs: shape.refillPerMs, need: 4, want: 4, reserve: 0, nowMs: clock.now() });
    expect(afterDeath).toEqual({ granted: 0, left: 3 });

    // After the time the bucket takes to refill those 5 units, the whole burst is there again.
    clock.advance(Math.ceil(5 / shape.refillPerMs));
    const recovered = await table.draw({ key: b.key, capacity: shape.capacity, refillPerMs: shape.refillPerMs, need: 8, want: 8, reserve: 0, nowMs: clock.now() });
    expect(recovered.granted).toBe(8);

    // Worker C stops cleanly: the 4 units it leased and did not spend are back at once.
    clock.advance(Math.ceil(8 / shape.refillPerMs));
    const c = new SharedRequestBudget({ table, clock, leaseUnits: 5 });
    await c.take(one(b), 'interactive');
    await c.close();
    const afterStop = await table.draw({ key: b.key, capacity: shape.capacity, refillPerMs: shape.refillPerMs, need: 7, want: 7, reserve: 0, nowMs: clock.now() });
    expect(afterStop.granted).toBe(7);
  });

  it("on PostgreSQL's own clock (production), grants a burst at once and the next unit after a refill", async () => {
    const b = bucket(); // 400 a window: a burst of 8, then a unit about every 27 ms
    const w = new SharedRequestBudget({ table });
    await w.take([{ bucket: b, units: 8 }], 'interactive');
    await w.take(one(b), 'interactive');
    const left = await table.draw({ key: b.key, capacity: 8, refillPerMs: 0, need: 8, want: 8, reserve: 0 });
    expect(left.granted).toBe(0);
  });

  it('a lease is not spent after it expires: the worker draws again', async () => {
    const clock = new ManualClock();
    const b = bucket();
    const shape = bucketShape(b, DEFAULT_SHAPE);
    const w = new SharedRequestBudget({ table, clock, leaseUnits: 4 });
    await w.take(one(b), 'interactive'); // leases 4: 4 left in the bucket, 3 spare on the worker
    clock.advance(shape.leaseMs + 1); // the spare units expire; the bucket refills to its 8
    await w.take(one(b), 'interactive'); // not from the expired lease: a new lease of 4 from the bucket
    const left = await table.draw({ key: b.key, capacity: shape.capacity, refillPerMs: shape.refillPerMs, need: 1, want: 1, reserve: 0, nowMs: clock.now() });
    expect(left.granted).toBe(1);
    expect(left.left).toBe(3);
  });
});

describe('draws from PostgreSQL', () => {
  /** The table, counting its draws. */
  class CountingTable extends BudgetTable {
    draws = 0;
    override draw(d: Parameters<BudgetTable['draw']>[0]): ReturnType<BudgetTable['draw']> {
      this.draws++;
      return super.draw(d);
    }
  }

  it('a worker with requests queued on a spent bucket waits for all their units and draws them at once', async () => {
    const clock = new ManualClock();
    const counting = new CountingTable(db);
    const b: QuotaBucket = { key: `test-budget:${randomUUID()}`, limit: 4_000, windowMs: WINDOW_MS }; // a burst of 80
    const w = new SharedRequestBudget({ table: counting, clock, leaseUnits: 10 });
    await w.take([{ bucket: b, units: 80 }], 'interactive'); // the whole burst: the bucket is empty now
    counting.draws = 0;
    let served = 0;
    await settleOnClock(clock, Promise.all(Array.from({ length: 10 }, () => w.take([{ bucket: b, units: 1 }], 'backfill').then(() => served++))));
    expect(served).toBe(10);
    // One draw finds the bucket empty, the next (once ten units and the backfill reserve have refilled) grants
    // all ten: not one draw per request.
    expect(counting.draws).toBe(2);
  });
});

describe('a 429 on one worker', () => {
  it('holds every replica off the bucket for the wait the source named', async () => {
    const clock = new ManualClock();
    const b: QuotaBucket = { key: `test-budget:${randomUUID()}`, limit: 400, windowMs: WINDOW_MS };
    const throttled = new SharedRequestBudget({ table, clock });
    await throttled.take([{ bucket: b, units: 1 }], 'interactive');
    const start = clock.now();
    await throttled.holdOff([{ bucket: b, units: 1 }], 5_000);
    let grantedAt: number | undefined;
    const other = new SharedRequestBudget({ table, clock });
    await settleOnClock(
      clock,
      other.take([{ bucket: b, units: 1 }], 'interactive').then(() => {
        grantedAt = clock.now();
      }),
    );
    if (grantedAt === undefined) throw new Error('never granted');
    expect(grantedAt - start).toBeGreaterThanOrEqual(5_000);
  });
});

describe('fairness inside a tenant budget', () => {
  it('an incremental sync waiting beside a backfill is granted first', async () => {
    const clock = new ManualClock();
    const b: QuotaBucket = { key: `test-budget:${randomUUID()}`, limit: 40, windowMs: WINDOW_MS };
    const w = new SharedRequestBudget({ table, clock, leaseUnits: 1 });
    await w.take([{ bucket: b, units: 2 }], 'interactive'); // the bucket's whole burst: it is empty now
    const order: string[] = [];
    const backfill = w.take([{ bucket: b, units: 1 }], 'backfill').then(() => order.push('backfill'));
    const incremental = w.take([{ bucket: b, units: 1 }], 'interactive').then(() => order.push('incremental'));
    await settleOnClock(clock, Promise.all([backfill, incremental]));
    expect(order).toEqual(['incremental', 'backfill']);
  });

  it('a backfill on one replica leaves the bucket reserve to an incremental sync on another', async () => {
    const clock = new ManualClock();
    const b: QuotaBucket = { key: `test-budget:${randomUUID()}`, limit: 400, windowMs: WINDOW_MS };
    const shape = bucketShape(b, DEFAULT_SHAPE);
    const draw = (need: number, reserve: number) =>
      table.draw({ key: b.key, capacity: shape.capacity, refillPerMs: shape.refillPerMs, need, want: need, reserve, nowMs: clock.now() });
    expect((await draw(shape.capacity, 0)).granted).toBe(shape.capacity); // empty
    clock.advance(Math.ceil(shape.backfillReserve / shape.refillPerMs)); // the reserve's worth refilled
    expect((await draw(1, shape.backfillReserve)).granted).toBe(0); // the backfill may not take it
    expect((await draw(shape.backfillReserve, 0)).granted).toBe(shape.backfillReserve); // the incremental sync does
  });

  it('one tenant spending its whole budget leaves another tenant untouched', async () => {
    const clock = new ManualClock();
    const mine: QuotaBucket = { key: `sharepoint-ru:graph:${randomUUID()}`, limit: 40, windowMs: WINDOW_MS };
    const theirs: QuotaBucket = { ...mine, key: `sharepoint-ru:graph:${randomUUID()}` };
    const w = new SharedRequestBudget({ table, clock });
    await w.take([{ bucket: mine, units: 2 }], 'interactive'); // its whole burst: empty now
    // No clock movement: the other tenant is granted its whole burst at once.
    await w.take([{ bucket: theirs, units: 2 }], 'interactive');
    expect(clock.sleeping).toBe(0);
  });
});

describe('Drive: one user, two workers', () => {
  it("keeps the user's queries in a minute under the quota on every worker together", async () => {
    const drive = await startDriveEmulator();
    try {
      const clock = new ManualClock();
      Object.assign(drive.quota.settings, { enforce: true, perUserPerWindow: 20, perProjectPerWindow: 1_000, windowMs: WINDOW_MS, clock: () => clock.now() });
      const token = drive.identity.issueAccessToken(DEFAULT_USER);
      const quotas = new SourceQuotas({
        sharePoint: { defaultLicenses: 0, tenantLicenses: {}, tenantUnitsPerMinute: {} },
        drive: { queriesPerMinute: 1_000, queriesPerMinutePerUser: 20 },
        windowMs: WINDOW_MS,
      });
      // Both workers call as one Cloud project; each has its own budget object, as a process would.
      const project = `test-${randomUUID()}`;
      const workerHttp = () =>
        new SourceHttp({
          tenantKey: `google-drive:${DEFAULT_USER}`,
          pauses: new TenantPauses(),
          rateLimiter: new RequestRateLimiter(),
          dispatcher: connections,
          budget: new SharedRequestBudget({ table, clock }),
          costs: quotas.drive(project, DEFAULT_USER),
          auth: { getAccessToken: () => Promise.resolve(token) },
        });
      const list = async (http: SourceHttp) => {
        for (let i = 0; i < 30; i++) await http.json(`${drive.driveBaseUrl}/drive/v3/files`);
      };
      const [a, b] = [workerHttp(), workerHttp()];
      await runOnClock(clock, [() => list(a), () => list(b)]);
      const perWindow = drive.quota.queriesPerWindow(DEFAULT_USER);
      expect(drive.quota.refused.size).toBe(0);
      expect(perWindow.reduce((n, q) => n + q, 0)).toBe(60);
      expect(perWindow.length).toBeGreaterThanOrEqual(3);
      for (const queries of perWindow) expect(queries).toBeLessThanOrEqual(20);
    } finally {
      await drive.close();
    }
  });
});
