import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_TENANT, type GraphEmulator, startGraphEmulator } from './server.js';

/** The emulator's SharePoint resource-unit budget: what a minute costs, the RateLimit headers, the 429. */

let emulator: GraphEmulator;
let token: string;
let now = 0;

beforeAll(async () => {
  emulator = await startGraphEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  emulator.reset();
  now = 1_200_000; // the start of a minute
  const response = await fetch(`${emulator.loginBaseUrl}/${EMULATOR_TENANT}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: EMULATOR_CLIENT_ID, client_secret: EMULATOR_CLIENT_SECRET, scope: 'https://graph.microsoft.com/.default' }),
  });
  token = ((await response.json()) as { access_token: string }).access_token;
});

const get = (path: string) => fetch(`${emulator.graphBaseUrl}${path}`, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });

describe('Graph emulator quota', () => {
  it('is off unless a test turns it on', async () => {
    for (let i = 0; i < 5; i++) expect((await get(`/drives/${emulator.drive.id}/root/children`)).status).toBe(200);
    expect(emulator.quota.unitsPerWindow(EMULATOR_CLIENT_ID)).toEqual([]);
  });

  it('charges each call its resource units, warns from 80 % with RateLimit headers, then answers 429 with Retry-After', async () => {
    Object.assign(emulator.quota.settings, { enforce: true, unitsPerWindow: 10, windowMs: 60_000, clock: () => now });
    const drive = `/drives/${emulator.drive.id}`;
    expect((await get(`${drive}/root/children`)).headers.get('ratelimit-remaining')).toBeNull(); // 2
    const first = await get(`${drive}/root/delta`); // 4
    const link = ((await first.json()) as Record<string, string>)['@odata.deltaLink'] ?? '';
    expect((await fetch(link, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200); // a delta with its token: 5
    expect((await get(`${drive}/root/children`)).status).toBe(200); // 7
    const warned = await get(`${drive}/root/children`); // 9: over 80 %
    expect(warned.status).toBe(200);
    expect([warned.headers.get('ratelimit-limit'), warned.headers.get('ratelimit-remaining'), warned.headers.get('ratelimit-reset')]).toEqual(['10', '1', '60']);
    now += 15_000;
    const refused = await get(`${drive}/root/children`); // 11: over the budget
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('45');
    expect(emulator.quota.throttled).toBe(1);
    now += 45_000; // the next minute
    expect((await get(`${drive}/root/children`)).status).toBe(200);
    expect(emulator.quota.unitsPerWindow(EMULATOR_CLIENT_ID)).toEqual([11, 2]);
  });
});
