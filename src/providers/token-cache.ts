import { createHash } from 'node:crypto';
import type { AccessTokenSource } from '../http/source-http.js';
import type { TokenGrant } from './oauth.js';

/**
 * Access tokens kept between activities, for every source: the many short
 * activities of one sync (and the next sync on this worker) do not each sign
 * in, parallel requests that all meet a 401 share one refresh, and a rotated
 * refresh token is saved before the access token that came with it is used.
 * The worker holds one cache (see SourceMemory); nothing here is global.
 */

/** Stop using a token this long before it expires (or at half its life, if shorter). */
const EARLY_REFRESH_MS = 5 * 60_000;

/** How one identity gets and keeps its tokens. */
export interface TokenSourceSpec {
  /** Names the identity in the cache. Never a secret in clear: use `fingerprint`. */
  key: string;
  /**
   * The refresh token this identity starts from, when it signs in with one. A
   * held token that does not descend from it belongs to an earlier sign-in (the
   * account was reconnected meanwhile) and is not used.
   */
  refreshToken?: string;
  /** A token an earlier refresh saved (in the database), used while it has time left. */
  stored?: { accessToken: string; expiresAt: Date };
  /** Asks the token endpoint, with the newest refresh token held (rotated ones included). */
  request(refreshToken: string | undefined): Promise<TokenGrant>;
  /**
   * Writes a new grant where the next sync reads it (`refreshToken` is set only
   * when it was rotated). Runs before the grant's token is used; when it fails,
   * it runs again before the next use, so a rotated token is never lost.
   */
  save?(grant: TokenGrant): Promise<void>;
}

interface HeldToken {
  accessToken: string;
  refreshAt: number;
  /** The newest refresh token for this identity, if it has one. */
  refreshToken?: string;
  /** Fingerprints of the refresh tokens this token descends from. */
  lineage: ReadonlySet<string>;
  /** A grant not yet written by `save`. */
  unsaved?: TokenGrant;
}

/** A short digest, so a cache key or lineage never holds a secret in clear. */
export const fingerprint = (secret: string): string => createHash('sha256').update(secret).digest('base64url').slice(0, 22);

function refreshAt(expiresAt: number, lifetimeMs: number): number {
  return expiresAt - Math.min(EARLY_REFRESH_MS, lifetimeMs / 2);
}

export class TokenCache {
  private readonly held = new Map<string, HeldToken>();
  private readonly pending = new Map<string, Promise<HeldToken>>();

  /** The bearer-token source the HTTP layer calls for one identity. */
  source(spec: TokenSourceSpec): AccessTokenSource {
    return { getAccessToken: (forceRefresh) => this.accessToken(spec, forceRefresh) };
  }

  private async accessToken(spec: TokenSourceSpec, forceRefresh: boolean): Promise<string> {
    const current = this.current(spec);
    if (current?.unsaved) await this.save(spec, current);
    const now = Date.now();
    if (!forceRefresh) {
      const stored = spec.stored && { accessToken: spec.stored.accessToken, refreshAt: refreshAt(spec.stored.expiresAt.getTime(), Number.POSITIVE_INFINITY) };
      const best = [current, stored].filter((t) => t !== undefined && t.refreshAt > now).sort((a, b) => (b?.refreshAt ?? 0) - (a?.refreshAt ?? 0))[0];
      if (best) return best.accessToken;
    }
    let request = this.pending.get(spec.key);
    if (!request) {
      request = this.refresh(spec, current).finally(() => this.pending.delete(spec.key));
      this.pending.set(spec.key, request);
    }
    return (await request).accessToken;
  }

  /** The held token, if it was issued for this sign-in. */
  private current(spec: TokenSourceSpec): HeldToken | undefined {
    const token = this.held.get(spec.key);
    if (!token || spec.refreshToken === undefined) return token;
    return token.lineage.has(fingerprint(spec.refreshToken)) ? token : undefined;
  }

  private async refresh(spec: TokenSourceSpec, current: HeldToken | undefined): Promise<HeldToken> {
    const presented = current?.refreshToken ?? spec.refreshToken;
    const grant = await spec.request(presented);
    const rotated = grant.refreshToken !== undefined && grant.refreshToken !== presented ? grant.refreshToken : undefined;
    const expiresAt = grant.expiresAt.getTime();
    const newest = rotated ?? presented;
    const token: HeldToken = {
      accessToken: grant.accessToken,
      refreshAt: refreshAt(expiresAt, expiresAt - Date.now()),
      ...(newest !== undefined ? { refreshToken: newest } : {}),
      lineage: new Set([spec.refreshToken, presented, rotated].filter((t) => t !== undefined).map(fingerprint)),
      ...(spec.save ? { unsaved: { accessToken: grant.accessToken, expiresAt: grant.expiresAt, ...(rotated ? { refreshToken: rotated } : {}) } } : {}),
    };
    // Held before it is saved: if the write fails, the retry still knows the token the source now expects.
    this.held.set(spec.key, token);
    await this.save(spec, token);
    return token;
  }

  private async save(spec: TokenSourceSpec, token: HeldToken): Promise<void> {
    if (!token.unsaved || !spec.save) return;
    await spec.save(token.unsaved);
    delete token.unsaved;
  }
}
