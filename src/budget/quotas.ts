/**
 * What each source call costs and which budgets it draws from, as the sources
 * document them. A budget is a number of units per window shared by every
 * request with the same key, on every worker (see SharedRequestBudget).
 */

export interface QuotaBucket {
  /** Requests sharing a key share the budget, e.g. `sharepoint-ru:{tenant}`. */
  key: string;
  /** Units the source allows in one window. */
  limit: number;
  windowMs: number;
}

export interface Charge {
  bucket: QuotaBucket;
  units: number;
}

/** Who goes first when a tenant's budget is short: incremental and operator syncs before backfills. */
export type GrantPriority = 'interactive' | 'backfill';

const MINUTE_MS = 60_000;

/**
 * SharePoint/OneDrive resource units an app may spend per tenant per minute, by
 * the tenant's licence count ("Avoid getting throttled or blocked in SharePoint
 * Online", Application throttling: 0–1k 1,200; 1k–5k 2,400; 5k–15k 3,600;
 * 15k–50k 4,800; 50k+ 6,000 per minute).
 * https://learn.microsoft.com/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online
 */
const SHAREPOINT_TIERS: readonly { belowLicences: number; unitsPerMinute: number }[] = [
  { belowLicences: 1_000, unitsPerMinute: 1_200 },
  { belowLicences: 5_000, unitsPerMinute: 2_400 },
  { belowLicences: 15_000, unitsPerMinute: 3_600 },
  { belowLicences: 50_000, unitsPerMinute: 4_800 },
  { belowLicences: Number.POSITIVE_INFINITY, unitsPerMinute: 6_000 },
];

export function sharePointUnitsPerMinute(licences: number): number {
  return SHAREPOINT_TIERS.find((t) => licences < t.belowLicences)?.unitsPerMinute ?? 1_200;
}

/**
 * Resource units of one Graph drive call (same page, "Resource units"): 1 for a
 * single item, a delta with a token or a download; 2 for a multi-item query
 * (children, a delta without a token) and any write; 5 for anything touching
 * permissions, `$expand=permissions` included.
 */
export function sharePointResourceUnits(method: string, url: URL): number {
  const path = url.pathname;
  const expand = url.searchParams.get('$expand') ?? '';
  if (/\/permissions(\/|$)/.test(path) || /permissions/i.test(expand)) return 5;
  if (method !== 'GET') return 2;
  if (/\/delta(\(\))?$/.test(path)) return deltaHasToken(url) ? 1 : 2;
  if (/\/children$/.test(path) || /\/(drives|sites)$/.test(path)) return 2;
  return 1;
}

function deltaHasToken(url: URL): boolean {
  return ['token', '$deltatoken', '$skiptoken', 'deltatoken', 'skiptoken'].some((name) => url.searchParams.has(name));
}

/** The rules for one tenant's Graph drive calls: every call spends its resource units from the tenant's minute. */
export function sharePointCharges(tenantKey: string, unitsPerMinute: number, windowMs = MINUTE_MS): (method: string, url: URL) => Charge[] {
  const bucket: QuotaBucket = { key: `sharepoint-ru:${tenantKey}`, limit: unitsPerMinute, windowMs };
  return (method, url) => [{ bucket, units: sharePointResourceUnits(method, url) }];
}

/**
 * Google Drive API: queries per minute per project and per user per project;
 * over either, Drive answers 403 `userRateLimitExceeded`/`rateLimitExceeded` or
 * 429 (Drive API "Usage limits"; defaults are its 12,000 queries a minute).
 * https://developers.google.com/workspace/drive/api/guides/limits
 */
export function driveCharges(
  project: string,
  user: string,
  limits: { perProject: number; perUser: number },
  windowMs = MINUTE_MS,
): (method: string, url: URL) => Charge[] {
  const projectBucket: QuotaBucket = { key: `drive-project:${project}`, limit: limits.perProject, windowMs };
  const userBucket: QuotaBucket = { key: `drive-user:${project}/${user}`, limit: limits.perUser, windowMs };
  return () => [
    { bucket: userBucket, units: 1 },
    { bucket: projectBucket, units: 1 },
  ];
}

/** Where a request waits for its units: the worker's shared budget (SharedRequestBudget). */
export interface RequestBudget {
  take(charges: readonly Charge[], priority: GrantPriority, signal?: AbortSignal): Promise<void>;
  /** The source throttled a request with these charges: every replica holds off those buckets for `ms`. */
  holdOff?(charges: readonly Charge[], ms: number): Promise<void>;
  /** The most units every worker together can spend from `bucket` in any span of `ms` (undefined: unbounded). */
  mostSpent?(bucket: QuotaBucket, ms: number): number;
}
