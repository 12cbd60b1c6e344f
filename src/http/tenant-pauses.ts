/**
 * When each tenant may be called again after it throttled us. Requests that
 * share a tenant key share one budget at the source, so one 429 pauses them
 * all. The worker holds one of these for its whole life (see SourceMemory).
 */
export class TenantPauses {
  private readonly until = new Map<string, number>();

  /** Milliseconds until `tenantKey` may be called again (0: now). */
  pausedFor(tenantKey: string, now = Date.now()): number {
    const until = this.until.get(tenantKey);
    if (until === undefined) return 0;
    if (until <= now) {
      this.until.delete(tenantKey);
      return 0;
    }
    return until - now;
  }

  /** Holds every request to `tenantKey` for `ms`; a shorter pause never cuts a longer one. */
  pause(tenantKey: string, ms: number, now = Date.now()): void {
    const until = now + ms;
    if ((this.until.get(tenantKey) ?? 0) < until) this.until.set(tenantKey, until);
  }
}
