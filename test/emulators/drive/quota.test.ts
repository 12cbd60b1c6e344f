import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_USER, startDriveEmulator, type DriveEmulator } from './index.js';

/** The emulator's Drive quotas: per user and per project per minute, and the backend's 429. */

let emu: DriveEmulator;
let now = 0;
beforeAll(async () => {
  emu = await startDriveEmulator();
});
afterAll(() => emu.close());
beforeEach(() => {
  emu.reset();
  now = 1_000_000;
});

const list = async (user: string) => {
  const token = emu.identity.issueAccessToken(user);
  const response = await fetch(`${emu.driveBaseUrl}/drive/v3/files`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await response.json()) as { error?: { errors?: Array<{ reason: string }> } };
  return { status: response.status, reason: body.error?.errors?.[0]?.reason, retryAfter: response.headers.get('retry-after') };
};

describe('Drive emulator quota', () => {
  it('is off unless a test turns it on', async () => {
    for (let i = 0; i < 5; i++) expect((await list(DEFAULT_USER)).status).toBe(200);
  });

  it("answers 403 userRateLimitExceeded past a user's minute, rateLimitExceeded past the project's", async () => {
    const other = 'bob@example.test';
    emu.addUser(other);
    Object.assign(emu.quota.settings, { enforce: true, perUserPerWindow: 2, perProjectPerWindow: 3, clock: () => now });
    expect((await list(DEFAULT_USER)).status).toBe(200);
    expect((await list(DEFAULT_USER)).status).toBe(200);
    expect(await list(DEFAULT_USER)).toEqual({ status: 403, reason: 'userRateLimitExceeded', retryAfter: null });
    // The project counted three queries already (refusals count): bob's first is over it.
    expect(await list(other)).toEqual({ status: 403, reason: 'rateLimitExceeded', retryAfter: null });
    now += 60_000;
    expect((await list(other)).status).toBe(200);
    expect(emu.quota.queriesPerWindow(DEFAULT_USER)).toEqual([3]);
    expect(emu.quota.queriesPerWindow('project')).toEqual([4, 1]);
  });

  it("answers 429 past the backend's per-second check", async () => {
    Object.assign(emu.quota.settings, { enforce: true, perUserPerSecond: 2, clock: () => now });
    expect((await list(DEFAULT_USER)).status).toBe(200);
    expect((await list(DEFAULT_USER)).status).toBe(200);
    expect(await list(DEFAULT_USER)).toEqual({ status: 429, reason: 'rateLimitExceeded', retryAfter: null });
    now += 1_000;
    expect((await list(DEFAULT_USER)).status).toBe(200);
    expect(emu.quota.refused.get('tooManyRequests')).toBe(1);
  });
});
