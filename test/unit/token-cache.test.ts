import { describe, expect, it } from 'vitest';
import type { TokenGrant } from '../../src/providers/oauth.js';
import { TokenCache, type TokenSourceSpec } from '../../src/providers/token-cache.js';

/** A token endpoint that rotates refresh tokens and records what it was given. */
function endpoint(options: { rotate?: boolean; lifetimeS?: number } = {}) {
  const presented: Array<string | undefined> = [];
  let n = 0;
  return {
    presented,
    request(refreshToken: string | undefined): Promise<TokenGrant> {
      presented.push(refreshToken);
      n++;
      return Promise.resolve({
        accessToken: `access-${n}`,
        expiresAt: new Date(Date.now() + (options.lifetimeS ?? 3600) * 1000),
        ...(options.rotate ? { refreshToken: `refresh-${n}` } : {}),
      });
    },
  };
}

describe('TokenCache', () => {
  it('hands out one token per identity until it nears expiry, and shares one refresh between parallel callers', async () => {
    const cache = new TokenCache();
    const api = endpoint();
    const source = cache.source({ key: 'app', request: (r) => api.request(r) });
    const tokens = await Promise.all([source.getAccessToken(false), source.getAccessToken(false), source.getAccessToken(false)]);
    expect(tokens).toEqual(['access-1', 'access-1', 'access-1']);
    expect(await cache.source({ key: 'app', request: (r) => api.request(r) }).getAccessToken(false)).toBe('access-1');
    expect(await source.getAccessToken(true)).toBe('access-2');
    expect(api.presented).toHaveLength(2);
  });

  it('keeps two caches apart, as two workers are', async () => {
    const api = endpoint();
    await new TokenCache().source({ key: 'app', request: (r) => api.request(r) }).getAccessToken(false);
    await new TokenCache().source({ key: 'app', request: (r) => api.request(r) }).getAccessToken(false);
    expect(api.presented).toHaveLength(2);
  });

  it('presents the newest rotated refresh token, and saves it before the access token is used', async () => {
    const cache = new TokenCache();
    const api = endpoint({ rotate: true });
    const saved: TokenGrant[] = [];
    const spec: TokenSourceSpec = { key: 'user', refreshToken: 'original', request: (r) => api.request(r), save: (g) => (saved.push(g), Promise.resolve()) };
    expect(await cache.source(spec).getAccessToken(false)).toBe('access-1');
    expect(saved.map((g) => g.refreshToken)).toEqual(['refresh-1']);
    // The next activity reads the row, which now holds the rotated token: same lineage, cached token reused.
    expect(await cache.source({ ...spec, refreshToken: 'refresh-1' }).getAccessToken(false)).toBe('access-1');
    expect(await cache.source({ ...spec, refreshToken: 'refresh-1' }).getAccessToken(true)).toBe('access-2');
    expect(api.presented).toEqual(['original', 'refresh-1']);
  });

  it('does not use a held token for an account that was reconnected meanwhile', async () => {
    const cache = new TokenCache();
    const api = endpoint({ rotate: true });
    await cache.source({ key: 'user', refreshToken: 'first-consent', request: (r) => api.request(r) }).getAccessToken(false);
    const token = await cache.source({ key: 'user', refreshToken: 'second-consent', request: (r) => api.request(r) }).getAccessToken(false);
    expect(token).toBe('access-2');
    expect(api.presented).toEqual(['first-consent', 'second-consent']);
  });

  it('repeats a failed save before the next use instead of asking for another token', async () => {
    const cache = new TokenCache();
    const api = endpoint({ rotate: true });
    let fail = true;
    const saved: string[] = [];
    const spec: TokenSourceSpec = {
      key: 'user',
      refreshToken: 'original',
      request: (r) => api.request(r),
      save: (g) => (fail ? Promise.reject(new Error('database unavailable')) : (saved.push(g.refreshToken ?? ''), Promise.resolve())),
    };
    await expect(cache.source(spec).getAccessToken(false)).rejects.toThrow('database unavailable');
    fail = false;
    expect(await cache.source(spec).getAccessToken(false)).toBe('access-1');
    expect(saved).toEqual(['refresh-1']);
    expect(api.presented).toEqual(['original']);
  });

  it('prefers a stored token with time left, and refreshes one about to expire', async () => {
    const api = endpoint();
    const fresh = { accessToken: 'stored', expiresAt: new Date(Date.now() + 3_600_000) };
    expect(await new TokenCache().source({ key: 'u', stored: fresh, request: (r) => api.request(r) }).getAccessToken(false)).toBe('stored');
    const stale = { accessToken: 'stored', expiresAt: new Date(Date.now() + 60_000) };
    expect(await new TokenCache().source({ key: 'u', stored: stale, request: (r) => api.request(r) }).getAccessToken(false)).toBe('access-1');
  });
});
