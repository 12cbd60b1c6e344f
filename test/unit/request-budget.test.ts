import { describe, expect, it } from 'vitest';
import { grantPriority } from '../../activities/sync-state.js';
import type { Charge, GrantPriority, RequestBudget } from '../../src/budget/quotas.js';
import { sharePointResourceUnits, sharePointUnitsPerMinute } from '../../src/budget/quotas.js';
import { bucketShape, DEFAULT_SHAPE } from '../../src/budget/shared-budget.js';
import { SourceQuotas } from '../../src/budget/source-quotas.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { RequestRateLimiter } from '../../src/http/rate-limit.js';
import { ThrottledError } from '../../src/errors.js';
import { SourceHttp } from '../../src/http/source-http.js';
import { TenantPauses } from '../../src/http/tenant-pauses.js';
import { cannedAnswers, okJson, type CannedAnswer } from '../support/canned-answers.js';

/** A budget that grants at once and remembers what each request was charged. */
function recordingBudget(): RequestBudget & { taken: Array<{ charges: readonly Charge[]; priority: GrantPriority }>; heldOff: Array<{ keys: string[]; ms: number }> } {
  const taken: Array<{ charges: readonly Charge[]; priority: GrantPriority }> = [];
  const heldOff: Array<{ keys: string[]; ms: number }> = [];
  return {
    taken,
    heldOff,
    take(charges, priority) {
      taken.push({ charges, priority });
      return Promise.resolve();
    },
    holdOff(charges, ms) {
      heldOff.push({ keys: charges.map((c) => c.bucket.key), ms });
      return Promise.resolve();
    },
  };
}

const graphOrigin = 'https://graph.example';
const answers = (...canned: CannedAnswer[]) => cannedAnswers(graphOrigin, ...canned);

describe('what a source call costs', () => {
  const graph = 'https://graph.microsoft.com/v1.0/drives/d1';
  it('charges Graph drive calls the resource units SharePoint documents', () => {
    expect(sharePointResourceUnits('GET', new URL(`${graph}/root/delta`))).toBe(2);
    expect(sharePointResourceUnits('GET', new URL(`${graph}/root/delta?token=abc`))).toBe(1);
    expect(sharePointResourceUnits('GET', new URL(`${graph}/items/i1/children`))).toBe(2);
    expect(sharePointResourceUnits('GET', new URL(`${graph}/items/i1/content`))).toBe(1);
    expect(sharePointResourceUnits('GET', new URL(`${graph}/items/i1`))).toBe(1);
    expect(sharePointResourceUnits('GET', new URL(`${graph}/items/i1/permissions`))).toBe(5);
    expect(sharePointResourceUnits('GET', new URL(`${graph}/items/i1?$expand=permissions`))).toBe(5);
  });

  it('gives a tenant the budget of its licence tier unless told its own', () => {
    expect([0, 999, 1_000, 12_000, 49_999, 50_000].map(sharePointUnitsPerMinute)).toEqual([1_200, 1_200, 2_400, 3_600, 4_800, 6_000]);
    const quotas = new SourceQuotas({
      sharePoint: { defaultLicenses: 2_000, tenantLicenses: { big: 80_000 }, tenantUnitsPerMinute: { agreed: 9_000 } },
      drive: { queriesPerMinute: 1, queriesPerMinutePerUser: 1 },
    });
    expect(['other', 'big', 'agreed'].map((t) => quotas.sharePointUnitsPerMinute(t))).toEqual([2_400, 6_000, 9_000]);
  });

  it('shapes each bucket so no window can spend more than its limit, leases included', () => {
    const opts = DEFAULT_SHAPE;
    for (const bucket of [
      { key: 'sp', limit: 1_200, windowMs: 60_000 },
      { key: 'sp-large', limit: 6_000, windowMs: 60_000 },
      { key: 'teams-channel', limit: 4, windowMs: 1_000 },
      { key: 'teams-messages', limit: 20, windowMs: 1_000 },
      { key: 'test', limit: 40, windowMs: 10_000 },
    ]) {
      const s = bucketShape(bucket, opts);
      expect(s.capacity + s.refillPerMs * (bucket.windowMs + s.leaseMs)).toBeLessThanOrEqual(bucket.limit + 1e-9);
      expect(s.backfillReserve).toBeLessThan(s.capacity + 1);
    }
    // The smallest SharePoint tier runs at over 96 % of its budget: a burst of 24 units and a 1 s lease.
    const sp = bucketShape({ key: 'sp', limit: 1_200, windowMs: 60_000 }, opts);
    expect([sp.capacity, sp.leaseMs]).toEqual([24, 1_000]);
    expect(sp.refillPerMs * 60_000).toBeGreaterThan(0.96 * 1_200);
    // A small bucket still holds a request of 2 units, so it is granted within the bound.
    expect(bucketShape({ key: 'test', limit: 40, windowMs: 10_000 }, opts).capacity).toBe(2);
  });
});

describe('SourceHttp with a shared budget', () => {
  const tenantKey = 'graph:t1';
  const costs = new SourceQuotas().sharePoint(tenantKey, 't1');

  it('charges every attempt its cost, with the sync priority', async () => {
    const budget = recordingBudget();
    const http = new SourceHttp({
      tenantKey,
      pauses: new TenantPauses(),
      rateLimiter: new RequestRateLimiter(),
      budget,
      costs,
      priority: 'backfill',
      baseDelayMs: 1,
      dispatcher: answers({ status: 503, body: 'busy' }, okJson()),
    });
    await http.json('https://graph.example/v1.0/drives/d1/root/delta', { query: { token: 'abc' } });
    expect(budget.taken.map((t) => t.priority)).toEqual(['backfill', 'backfill']);
    expect(budget.taken.map((t) => t.charges.map((c) => [c.bucket.key, c.bucket.limit, c.units]))).toEqual([
      [['sharepoint-ru:graph:t1', 1_200, 1]],
      [['sharepoint-ru:graph:t1', 1_200, 1]],
    ]);
  });

  it('a 429 makes every replica hold off the buckets it charged for the wait the source named', async () => {
    const budget = recordingBudget();
    const http = new SourceHttp({
      tenantKey,
      pauses: new TenantPauses(),
      rateLimiter: new RequestRateLimiter(),
      budget,
      costs,
      maxInlineWaitMs: 5_000,
      dispatcher: answers({ status: 429, body: '{}', headers: { 'retry-after': '1' } }, okJson()),
    });
    await http.json('https://graph.example/v1.0/drives/d1/items/a');
    expect(budget.heldOff).toEqual([{ keys: ['sharepoint-ru:graph:t1'], ms: 1_000 }]);
    expect(budget.taken).toHaveLength(2);
  });

  it('draws per-second buckets (Teams) from the shared budget instead of the worker alone', async () => {
    const budget = recordingBudget();
    const http = new SourceHttp({ tenantKey, pauses: new TenantPauses(), rateLimiter: new RequestRateLimiter(), budget, dispatcher: answers(okJson()) });
    await http.json('https://graph.example/v1.0/teams/x/channels/y/messages', { rate: [{ key: 'teams-channel:x/y', perSecond: 4 }] });
    expect(budget.taken[0]?.priority).toBe('interactive');
    expect(budget.taken[0]?.charges).toEqual([{ bucket: { key: 'teams-channel:x/y', limit: 4, windowMs: 1_000 }, units: 1 }]);
  });

  it("slows the whole tenant down when SharePoint says under a tenth of the minute's units are left", async () => {
    const pauses = new TenantPauses();
    const near = new SourceHttp({
      tenantKey,
      pauses,
      rateLimiter: new RequestRateLimiter(),
      dispatcher: answers(okJson({ 'ratelimit-limit': '1200', 'ratelimit-remaining': '200', 'ratelimit-reset': '30' }), okJson({ 'ratelimit-limit': '1200', 'ratelimit-remaining': '90', 'ratelimit-reset': '3' })),
    });
    await near.json('https://graph.example/v1.0/drives/d1/items/a');
    expect(pauses.pausedFor(tenantKey)).toBe(0); // 200 of 1,200 left: over a tenth
    await near.json('https://graph.example/v1.0/drives/d1/items/b');
    const paused = pauses.pausedFor(tenantKey);
    expect(paused).toBeGreaterThan(2_000);
    expect(paused).toBeLessThanOrEqual(3_000);
  });

  /** A budget shaped as the shared one (a 2 % burst, a 1 s lease): what every replica can spend in a span. */
  function shapedBudget(): RequestBudget {
    return {
      ...recordingBudget(),
      mostSpent: (bucket, ms) => {
        const shape = bucketShape(bucket, DEFAULT_SHAPE);
        return shape.capacity + shape.refillPerMs * (ms + shape.leaseMs);
      },
    };
  }
  const nearLimit = (remaining: number, resetS: number, limit = 1_200) => okJson({ 'ratelimit-limit': String(limit), 'ratelimit-remaining': String(remaining), 'ratelimit-reset': String(resetS) });

  it('with the shared budget, does not pause for a nearly spent minute the budget itself accounts for', async () => {
    const pauses = new TenantPauses();
    // 1,152 of 1,200 spent with a second to go: what the budget spends at its full rate (at most 1,200 a minute).
    const http = new SourceHttp({ tenantKey, pauses, rateLimiter: new RequestRateLimiter(), budget: shapedBudget(), costs, priority: 'backfill', dispatcher: answers(nearLimit(48, 1)) });
    await http.json('https://graph.example/v1.0/drives/d1/items/a');
    expect(pauses.pausedFor(tenantKey)).toBe(0);
  });

  it('with the shared budget, still pauses when the source counted more than the budget can have spent, or has a smaller limit', async () => {
    // 1,110 spent with 30 s to go: the budget can have spent at most about 640 since the minute began; someone else spends too.
    const spentElsewhere = new TenantPauses();
    await new SourceHttp({ tenantKey, pauses: spentElsewhere, rateLimiter: new RequestRateLimiter(), budget: shapedBudget(), costs, priority: 'backfill', dispatcher: answers(nearLimit(90, 30)) }).json(
      'https://graph.example/v1.0/drives/d1/items/a',
    );
    expect(spentElsewhere.pausedFor(tenantKey)).toBeGreaterThan(0);
    // The tenant's real limit is below the budget set for it.
    const smaller = new TenantPauses();
    await new SourceHttp({ tenantKey, pauses: smaller, rateLimiter: new RequestRateLimiter(), budget: shapedBudget(), costs, priority: 'backfill', dispatcher: answers(nearLimit(50, 1, 1_000)) }).json(
      'https://graph.example/v1.0/drives/d1/items/a',
    );
    expect(smaller.pausedFor(tenantKey)).toBeGreaterThan(0);
  });

  it('an interactive request goes through a near-limit pause on the shared budget; a backfill and a 429 pause hold', async () => {
    const pauses = new TenantPauses();
    pauses.pause(tenantKey, 60_000, Date.now(), 'nearLimit');
    const withPriority = (priority: GrantPriority) =>
      new SourceHttp({ tenantKey, pauses, rateLimiter: new RequestRateLimiter(), budget: shapedBudget(), costs, priority, maxInlineWaitMs: 5_000, dispatcher: answers(okJson()) });
    await expect(withPriority('interactive').json('https://graph.example/v1.0/drives/d1/items/a')).resolves.toMatchObject({ status: 200 });
    // A wait over maxInlineWaitMs is handed to Temporal at once: no time passes in the test.
    await expect(withPriority('backfill').json('https://graph.example/v1.0/drives/d1/items/a')).rejects.toBeInstanceOf(ThrottledError);
    // Without the shared budget nothing else keeps it in the minute: the interactive request waits too.
    const alone = new SourceHttp({ tenantKey, pauses, rateLimiter: new RequestRateLimiter(), maxInlineWaitMs: 5_000, dispatcher: answers(okJson()) });
    await expect(alone.json('https://graph.example/v1.0/drives/d1/items/a')).rejects.toBeInstanceOf(ThrottledError);
    pauses.pause(tenantKey, 60_000, Date.now(), 'throttled');
    await expect(withPriority('interactive').json('https://graph.example/v1.0/drives/d1/items/a')).rejects.toBeInstanceOf(ThrottledError);
  });
});

describe('budget configuration', () => {
  it('is shared at the smallest SharePoint tier and Drive defaults unless told otherwise', () => {
    const c = loadConfig({});
    expect(c.budgets.mode).toBe('shared');
    expect(c.budgets.sharePoint).toEqual({ defaultLicenses: 0, tenantLicenses: {}, tenantUnitsPerMinute: {} });
    expect(c.budgets.drive).toEqual({ queriesPerMinute: 12_000, queriesPerMinutePerUser: 12_000 });
    expect(c.budgets.windowMs).toBe(60_000);
  });

  it('counts in the window tests and benchmarks shorten', () => {
    expect(loadConfig({ SOURCE_QUOTA_WINDOW_MS: '5000' }).budgets.windowMs).toBe(5_000);
    expect(() => loadConfig({ SOURCE_QUOTA_WINDOW_MS: '0' })).toThrow(/SOURCE_QUOTA_WINDOW_MS/);
  });

  it('reads per-tenant licences and budgets', () => {
    const c = loadConfig({
      SOURCE_BUDGET: 'per-worker',
      SHAREPOINT_LICENSES: '3000',
      SHAREPOINT_TENANT_LICENSES: 'contoso-id=60000, fabrikam-id=800',
      SHAREPOINT_TENANT_UNITS_PER_MINUTE: 'agreed-id=9000',
      GOOGLE_DRIVE_QUERIES_PER_MINUTE: '20000',
      GOOGLE_DRIVE_QUERIES_PER_MINUTE_PER_USER: '3000',
    });
    expect(c.budgets).toEqual({
      mode: 'per-worker',
      sharePoint: { defaultLicenses: 3_000, tenantLicenses: { 'contoso-id': 60_000, 'fabrikam-id': 800 }, tenantUnitsPerMinute: { 'agreed-id': 9_000 } },
      drive: { queriesPerMinute: 20_000, queriesPerMinutePerUser: 3_000 },
      windowMs: 60_000,
    });
  });

  it('names a malformed per-tenant list', () => {
    expect(() => loadConfig({ SHAREPOINT_TENANT_LICENSES: 'contoso-id:60000' })).toThrow(ConfigError);
    expect(() => loadConfig({ SHAREPOINT_TENANT_LICENSES: 'contoso-id:60000' })).toThrow(/SHAREPOINT_TENANT_LICENSES must be tenant-id=number pairs/);
  });
});

describe('whose turn first', () => {
  it('a first sync and a whole enumeration under way are backfills; a sync from a saved cursor is not', () => {
    expect(grantPriority({}, 'onedrive')).toBe('backfill');
    expect(grantPriority({ v: 1, type: 'onedrive', cursor: { deltaLink: 'x' }, generation: 'g1' }, 'onedrive')).toBe('backfill');
    expect(grantPriority({ v: 1, type: 'onedrive', cursor: { deltaLink: 'x' } }, 'onedrive')).toBe('interactive');
  });
});
