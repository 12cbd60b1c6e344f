import type { DownloadAnswer } from './downloads.js';
import { graphError } from './routes.js';

/**
 * SharePoint's resource-unit budget for an app in a tenant, as "Avoid getting
 * throttled or blocked in SharePoint Online" describes it
 * (https://learn.microsoft.com/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online):
 * - a tenant's app gets resource units per minute by licence count (1,200 under 1,000 licences);
 * - Graph calls cost 1 (one item, a delta with a token, a download), 2 (a
 *   multi-item query: children, a delta without a token) or 5 (any permission call);
 * - from 80 % of the minute used, answers carry `RateLimit-Limit`,
 *   `RateLimit-Remaining` and `RateLimit-Reset` (seconds to the window's end);
 * - past the budget: 429 with `Retry-After`; throttled requests count against the
 *   budget too (the page: "throttled requests count towards usage limits").
 * The page does not say how the minute is cut: the emulator uses fixed windows
 * (the worst plausible for a client: a full budget is refused until the window ends).
 * Off unless a test sets `enforce`; tests shorten `windowMs` and drive `clock`.
 */
export interface GraphQuotaSettings {
  enforce: boolean;
  unitsPerWindow: number;
  windowMs: number;
  /** Share of the window's units spent from which answers carry RateLimit-* (the page: 80 %). */
  headersFromShare: number;
  clock: () => number;
}

export class GraphQuota {
  readonly settings: GraphQuotaSettings = GraphQuota.defaults();
  /** Units spent per `${tenant}#${window index}`, refused requests included. */
  private readonly spent = new Map<string, number>();
  /** Requests answered 429 because the budget was spent. */
  throttled = 0;
  /** The same, per tenant. */
  readonly throttledPerTenant = new Map<string, number>();

  private static defaults(): GraphQuotaSettings {
    return { enforce: false, unitsPerWindow: 1_200, windowMs: 60_000, headersFromShare: 0.8, clock: () => Date.now() };
  }

  reset(): void {
    Object.assign(this.settings, GraphQuota.defaults());
    this.spent.clear();
    this.throttled = 0;
    this.throttledPerTenant.clear();
  }

  /** Units `tenant` spent in each window so far, oldest first (windows with none included). */
  unitsPerWindow(tenant: string): number[] {
    const windows = [...this.spent.keys()].filter((k) => k.startsWith(`${tenant}#`)).map((k) => Number(k.slice(tenant.length + 1)));
    if (windows.length === 0) return [];
    const first = Math.min(...windows);
    const last = Math.max(...windows);
    return Array.from({ length: last - first + 1 }, (_, i) => this.spent.get(`${tenant}#${first + i}`) ?? 0);
  }

  /** Units `tenant` spent in each window it spent in, with the window's start (ms since the epoch). */
  windowsOf(tenant: string): Array<{ startMs: number; units: number }> {
    return [...this.spent.entries()]
      .filter(([k]) => k.startsWith(`${tenant}#`))
      .map(([k, units]) => ({ startMs: Number(k.slice(tenant.length + 1)) * this.settings.windowMs, units }))
      .sort((a, b) => a.startMs - b.startMs);
  }

  /**
   * Charges one Graph call of `tenant`; answers the refusal, or the headers an
   * answer carries. `graphPath` is the path after `/v1.0`.
   */
  meter(tenant: string, method: string, graphPath: string, url: URL): { refused?: DownloadAnswer; headers: Record<string, string> } {
    const { enforce, unitsPerWindow, windowMs, headersFromShare, clock } = this.settings;
    if (!enforce) return { headers: {} };
    const now = clock();
    const window = Math.floor(now / windowMs);
    const key = `${tenant}#${window}`;
    const before = this.spent.get(key) ?? 0;
    const after = before + resourceUnits(method, graphPath, url);
    this.spent.set(key, after);
    const resetS = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
    if (after > unitsPerWindow) {
      this.throttled++;
      this.throttledPerTenant.set(tenant, (this.throttledPerTenant.get(tenant) ?? 0) + 1);
      const refused = graphError(429, 'TooManyRequests', 'The request has been throttled: the application used its resource units for this tenant.');
      refused.headers = { 'retry-after': String(resetS) };
      return { refused, headers: {} };
    }
    if (after < unitsPerWindow * headersFromShare) return { headers: {} };
    return { headers: { 'ratelimit-limit': String(unitsPerWindow), 'ratelimit-remaining': String(unitsPerWindow - after), 'ratelimit-reset': String(resetS) } };
  }

  /** An answer with the quota's headers added. */
  static stamp(answer: DownloadAnswer, headers: Record<string, string>): DownloadAnswer {
    return Object.keys(headers).length === 0 ? answer : { ...answer, headers: { ...answer.headers, ...headers } };
  }
}

/** The page's cost table (see above), from the request the emulator received. */
function resourceUnits(method: string, graphPath: string, url: URL): number {
  if (/\/permissions(\/|$)/.test(graphPath) || /permissions/i.test(url.searchParams.get('$expand') ?? '')) return 5;
  if (method !== 'GET') return 2;
  if (/\/delta$/.test(graphPath)) return url.searchParams.has('token') ? 1 : 2;
  if (/\/children$/.test(graphPath)) return 2;
  return 1;
}
