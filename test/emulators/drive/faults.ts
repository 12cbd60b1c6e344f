/**
 * Per-test fault injection: a rule matches requests and replaces the answer
 * (a Google-style error, a reset connection, a garbage body) a number of times.
 */

export type FaultReply =
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'reset' }
  | { kind: 'garbage' };

export interface FaultRule {
  method?: string;
  /** Pathname equals this string, or matches this pattern. */
  path?: string | RegExp;
  /** The request names this file (a path segment or the `id` query parameter). */
  fileId?: string;
  /** Every listed query parameter has this value. */
  query?: Record<string, string>;
  /** How many matching requests get the fault (default 1; Infinity for all). */
  times?: number;
  reply: FaultReply;
}

export interface FaultRequest {
  method: string;
  pathname: string;
  query: URLSearchParams;
}

export class FaultBook {
  private rules: Array<FaultRule & { left: number }> = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
  }

  clear(): void {
    this.rules = [];
  }

  /** The reply of the first matching rule with uses left (and uses it up). */
  take(request: FaultRequest): FaultReply | undefined {
    for (const rule of this.rules) {
      if (rule.left <= 0 || !matches(rule, request)) continue;
      rule.left -= 1;
      return rule.reply;
    }
    return undefined;
  }
}

function matches(rule: FaultRule, request: FaultRequest): boolean {
  if (rule.method && rule.method.toUpperCase() !== request.method) return false;
  if (typeof rule.path === 'string' && request.pathname !== rule.path) return false;
  if (rule.path instanceof RegExp && !rule.path.test(request.pathname)) return false;
  if (rule.fileId && !request.pathname.split('/').includes(rule.fileId) && request.query.get('id') !== rule.fileId) return false;
  for (const [key, value] of Object.entries(rule.query ?? {})) {
    if (request.query.get(key) !== value) return false;
  }
  return true;
}

/** Drive's error body: `{"error":{"code","message","errors":[{"domain","reason","message"}]}}`. */
export function googleError(status: number, reason: string, message: string, extra: Record<string, string> = {}): { status: number; body: unknown } {
  return {
    status,
    body: { error: { code: status, message, errors: [{ domain: 'global', reason, message, ...extra }] } },
  };
}

/** Ready-made faults for the cases the source must handle. */
export const fault = {
  /** 403 rateLimitExceeded; with `retryAt`, the message says "Retry after <time>" (no header), as Google sometimes does. */
  rateLimited(retryAt?: Date, reason: 'rateLimitExceeded' | 'userRateLimitExceeded' = 'rateLimitExceeded'): FaultReply {
    return googleError(403, reason, retryAt ? `Rate Limit Exceeded. Retry after ${retryAt.toISOString()}` : 'Rate Limit Exceeded');
  },
  tooManyRequests(retryAfterSeconds?: number): FaultReply {
    return {
      ...googleError(429, 'rateLimitExceeded', 'Too Many Requests'),
      ...(retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {}),
    };
  },
  unavailable(retryAfterSeconds?: number): FaultReply {
    return {
      ...googleError(503, 'backendError', 'Service Unavailable'),
      ...(retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {}),
    };
  },
  dailyLimit(): FaultReply {
    return googleError(403, 'dailyLimitExceeded', 'Daily Limit Exceeded');
  },
  /** Per-file refusals: downloadQuotaExceeded, cannotDownloadAbusiveFile, cannotExportFile… */
  fileRefused(reason: string, message = 'The download quota for this file has been exceeded.'): FaultReply {
    return googleError(403, reason, message);
  },
  unauthorized(): FaultReply {
    return googleError(401, 'authError', 'Invalid Credentials', { location: 'Authorization', locationType: 'header' });
  },
  invalidPageToken(): FaultReply {
    return googleError(400, 'invalid', 'Invalid Value', { location: 'pageToken', locationType: 'parameter' });
  },
  reset(): FaultReply {
    return { kind: 'reset' };
  },
  garbage(): FaultReply {
    return { kind: 'garbage' };
  },
};
