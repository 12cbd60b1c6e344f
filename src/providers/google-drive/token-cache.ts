import type { AccessTokenSource } from '../../http/source-http.js';
import type { TokenGrant } from './token-endpoint.js';

/**
 * Access tokens kept in-process per connector and identity, so the activities
 * of one sync (and the next sync on this worker) do not each mint a token.
 */

/** A token with less than this left is refreshed before use, not after a 401. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

interface Held {
  accessToken: string;
  /** When to stop using it: 5 minutes before expiry, or halfway for a token that lives less than 10. */
  refreshAt: number;
}

function heldToken(accessToken: string, expiresAt: number, lifetimeMs: number = Number.POSITIVE_INFINITY): Held {
  return { accessToken, refreshAt: expiresAt - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2) };
}

const held = new Map<string, Held>();
const refreshing = new Map<string, Promise<string>>();

/** Drops every cached token (tests; a revoked identity). */
export function forgetDriveTokens(): void {
  held.clear();
}

function usable(token: Held | undefined, now: number): token is Held {
  return token !== undefined && token.refreshAt > now;
}

export class CachedTokenSource implements AccessTokenSource {
  constructor(
    private readonly cacheKey: string,
    /** A token saved by an earlier refresh (google_credentials or the config), if any. */
    private readonly stored: { accessToken: string; expiresAt: Date } | undefined,
    /** Mints a new token; also responsible for saving it where the next sync reads it. */
    private readonly refresh: () => Promise<TokenGrant>,
  ) {}

  getAccessToken(forceRefresh: boolean): Promise<string> {
    const now = Date.now();
    if (forceRefresh) {
      held.delete(this.cacheKey);
    } else {
      const candidates = [held.get(this.cacheKey), this.stored && heldToken(this.stored.accessToken, this.stored.expiresAt.getTime())];
      const best = candidates.filter((c): c is Held => usable(c, now)).sort((a, b) => b.refreshAt - a.refreshAt)[0];
      if (best) return Promise.resolve(best.accessToken);
    }
    // Parallel downloads that all hit a 401 share one refresh.
    let pending = refreshing.get(this.cacheKey);
    if (!pending) {
      pending = this.refresh()
        .then((grant) => {
          const expiresAt = grant.expiresAt.getTime();
          held.set(this.cacheKey, heldToken(grant.accessToken, expiresAt, expiresAt - Date.now()));
          return grant.accessToken;
        })
        .finally(() => refreshing.delete(this.cacheKey));
      refreshing.set(this.cacheKey, pending);
    }
    return pending;
  }
}
