import { googleError } from './faults.js';
import type { DriveReply } from './routes.js';

/**
 * Drive API quotas, as "Usage limits" describes them
 * (https://developers.google.com/workspace/drive/api/guides/limits): queries per
 * minute per project and per minute per user per project; over the user's,
 * 403 `userRateLimitExceeded`, over the project's, 403 `rateLimitExceeded`
 * ("Resolve errors": https://developers.google.com/workspace/drive/api/guides/handle-errors);
 * "additional rate limit checks on the Drive backend might also generate a 429",
 * modelled as a cap on one user's requests in one second. No `Retry-After` on
 * any of them: the guide asks for exponential backoff. The page does not say how
 * the minute is cut: fixed windows, the worst for a client. Refused queries count
 * (the worst plausible). The emulator is one project: every identity is its user.
 * Off unless a test sets `enforce`; tests shorten `windowMs` and drive `clock`.
 */
export interface DriveQuotaSettings {
  enforce: boolean;
  perUserPerWindow: number;
  perProjectPerWindow: number;
  windowMs: number;
  /** Requests of one user in one second before a 429 (Infinity: never). */
  perUserPerSecond: number;
  clock: () => number;
}

export class DriveQuota {
  readonly settings: DriveQuotaSettings = DriveQuota.defaults();
  private readonly spent = new Map<string, number>();
  /** Refusals per reason: `userRateLimitExceeded`, `rateLimitExceeded`, `tooManyRequests`. */
  readonly refused = new Map<string, number>();

  private static defaults(): DriveQuotaSettings {
    return { enforce: false, perUserPerWindow: 12_000, perProjectPerWindow: 12_000, windowMs: 60_000, perUserPerSecond: Number.POSITIVE_INFINITY, clock: () => Date.now() };
  }

  reset(): void {
    Object.assign(this.settings, DriveQuota.defaults());
    this.spent.clear();
    this.refused.clear();
  }

  /** Queries counted for `who` (a user's email, or `project`) in each window so far, oldest first. */
  queriesPerWindow(who: string): number[] {
    const windows = [...this.spent.keys()].filter((k) => k.startsWith(`${who}#`)).map((k) => Number(k.slice(who.length + 1)));
    if (windows.length === 0) return [];
    const first = Math.min(...windows);
    return Array.from({ length: Math.max(...windows) - first + 1 }, (_, i) => this.spent.get(`${who}#${first + i}`) ?? 0);
  }

  /** Counts one query of `user`; answers the refusal when a quota is spent. */
  meter(user: string): DriveReply | undefined {
    const s = this.settings;
    if (!s.enforce) return undefined;
    const now = s.clock();
    const user1 = this.count(`second:${user}`, Math.floor(now / 1000));
    const userN = this.count(user, Math.floor(now / s.windowMs));
    const projectN = this.count('project', Math.floor(now / s.windowMs));
    if (userN > s.perUserPerWindow) return this.refuse('userRateLimitExceeded', googleError(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded'));
    if (projectN > s.perProjectPerWindow) return this.refuse('rateLimitExceeded', googleError(403, 'rateLimitExceeded', 'Rate Limit Exceeded'));
    if (user1 > s.perUserPerSecond) return this.refuse('tooManyRequests', googleError(429, 'rateLimitExceeded', 'Too Many Requests'));
    return undefined;
  }

  private count(who: string, window: number): number {
    const key = `${who}#${window}`;
    const n = (this.spent.get(key) ?? 0) + 1;
    this.spent.set(key, n);
    return n;
  }

  private refuse(reason: string, reply: DriveReply): DriveReply {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
    return reply;
  }
}
