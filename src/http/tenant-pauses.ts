/**
 * When each tenant may be called again after it throttled us. Requests that
 * share a tenant key share one budget at the source, so one 429 pauses them
 * all. The worker holds one of these for its whole life (see SourceMemory).
 *
 * A pause is `throttled` (the source refused or named a wait: every request
 * waits) or `nearLimit` (the source said its window is nearly spent, before any
 * refusal): a caller may let some requests through the latter (SourceHttp lets
 * an interactive request through when the shared budget keeps it in the window).
 */
export type PauseKind = 'throttled' | 'nearLimit';

export class TenantPauses {
  private readonly until: Record<PauseKind, Map<string, number>> = { throttled: new Map(), nearLimit: new Map() };

  /** Milliseconds until `tenantKey` may be called again (0: now), counting only the pauses of `kinds`. */
  pausedFor(tenantKey: string, now = Date.now(), kinds: readonly PauseKind[] = ['throttled', 'nearLimit']): number {
    let wait = 0;
    for (const kind of kinds) {
      const pauses = this.until[kind];
      const until = pauses.get(tenantKey);
      if (until === undefined) continue;
      if (until <= now) pauses.delete(tenantKey);
      else wait = Math.max(wait, until - now);
    }
    return wait;
  }

  /** Holds requests to `tenantKey` for `ms`; a shorter pause never cuts a longer one of its kind. */
  pause(tenantKey: string, ms: number, now = Date.now(), kind: PauseKind = 'throttled'): void {
    const until = now + ms;
    const pauses = this.until[kind];
    if ((pauses.get(tenantKey) ?? 0) < until) pauses.set(tenantKey, until);
  }
}
