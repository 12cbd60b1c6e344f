import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  EMULATOR_SITE_ID,
  EMULATOR_SITE_PATH,
  EMULATOR_TENANT,
  EMULATOR_USER,
  type GraphEmulator,
  startGraphEmulator,
} from './server.js';

/** The emulator's own promises: a connector test is only as strict as the emulator under it. */

let emulator: GraphEmulator;

beforeAll(async () => {
  emulator = await startGraphEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => emulator.reset());

async function appToken(): Promise<string> {
  const response = await fetch(`${emulator.loginBaseUrl}/${EMULATOR_TENANT}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: EMULATOR_CLIENT_ID, client_secret: EMULATOR_CLIENT_SECRET, scope: 'https://graph.microsoft.com/.default' }),
  });
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

async function graph(path: string, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(path.startsWith('http') ? path : `${emulator.graphBaseUrl}${path}`, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    redirect: 'manual',
  });
}

describe('Graph emulator', () => {
  it('refuses Graph calls without a valid bearer token', async () => {
    expect((await graph(`/drives/${emulator.drive.id}`)).status).toBe(401);
    const response = await graph(`/drives/${emulator.drive.id}`, 'made-up');
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'InvalidAuthenticationToken' } });
    expect((await graph(`/drives/${emulator.drive.id}`, await appToken())).status).toBe(200);
  });

  it('rotates refresh tokens: each works once', async () => {
    const first = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, EMULATOR_USER.id);
    const redeem = (token: string) =>
      fetch(`${emulator.loginBaseUrl}/common/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: EMULATOR_CLIENT_ID, client_secret: EMULATOR_CLIENT_SECRET, refresh_token: token, scope: 'offline_access' }),
      });
    const answer = (await (await redeem(first)).json()) as { refresh_token: string; access_token: string };
    expect(answer.refresh_token).not.toBe(first);
    expect(await (await redeem(first)).json()).toMatchObject({ error: 'invalid_grant' });
    expect((await redeem(answer.refresh_token)).status).toBe(200);
    const me = await graph('/me/drive', answer.access_token);
    expect(await me.json()).toMatchObject({ id: emulator.drive.id });
  });

  it('redirects /content to a download URL that refuses an Authorization header and serves ranges', async () => {
    const file = emulator.addFile('/', 'a.bin', Buffer.from('0123456789'));
    const token = await appToken();
    const redirect = await graph(`/drives/${emulator.drive.id}/items/${file.id}/content`, token);
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location') ?? '';

    expect((await fetch(location, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect(emulator.authorizationLeaks).toBe(1);
    const partial = await fetch(location, { headers: { range: 'bytes=2-5' } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(await partial.text()).toBe('2345');
    expect(emulator.downloads(file.id)).toBe(1);
  });

  it('answers delta with stable pages, tombstones, token=latest, and refuses folder-scoped delta on Business', async () => {
    const folder = emulator.addFolder('/', 'F');
    const file = emulator.addFile(folder.id, 'x.txt', 'x');
    const token = await appToken();
    const first = (await (await graph(`/drives/${emulator.drive.id}/root/delta?$select=id,name,deleted`, token)).json()) as Record<string, unknown>;
    expect((first.value as unknown[]).length).toBe(3);
    expect(first.value).toContainEqual({ id: file.id, name: 'x.txt' });

    emulator.delete(file.id);
    const next = (await (await graph(String(first['@odata.deltaLink']), token)).json()) as { value: Array<Record<string, unknown>> };
    expect(next.value.find((i) => i.id === file.id)).toEqual({ id: file.id, deleted: { state: 'deleted' } });

    const latest = (await (await graph(`/drives/${emulator.drive.id}/root/delta?token=latest`, token)).json()) as Record<string, unknown>;
    expect(latest.value).toEqual([]);
    expect(latest['@odata.deltaLink']).toEqual(expect.stringContaining('token='));

    expect((await graph(`/drives/${emulator.drive.id}/items/${folder.id}/delta`, token)).status).toBe(400);
  });

  it('applies faults in order and counts them', async () => {
    emulator.faults.push({ match: /\/drives\//, status: 429, retryAfter: '7', times: 2 });
    const token = await appToken();
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const response = await graph(`/drives/${emulator.drive.id}`, token);
      statuses.push([response.status, response.headers.get('retry-after')]);
    }
    expect(statuses).toEqual([
      [429, '7'],
      [429, '7'],
      [200, null],
    ]);
    expect(emulator.faults[0]?.hits).toBe(2);
  });

  it('behaves as SharePoint does where Graph promises little: no cTag in Business delta, one tombstone per deleted folder, refused links, lost delta links', async () => {
    const folder = emulator.addFolder('/', 'F');
    const file = emulator.addFile(folder.id, 'x.txt', 'x');
    const token = await appToken();
    const first = (await (await graph(`/drives/${emulator.drive.id}/root/delta`, token)).json()) as { value: Array<Record<string, unknown>>; '@odata.deltaLink': string };
    expect(first.value.find((i) => i.id === file.id)).not.toHaveProperty('cTag');
    const listed = (await (await graph(`/drives/${emulator.drive.id}/items/${folder.id}/children`, token)).json()) as { value: Array<Record<string, unknown>> };
    expect(listed.value[0]).toHaveProperty('cTag');

    emulator.delete(folder.id);
    const next = (await (await graph(first['@odata.deltaLink'], token)).json()) as { value: Array<Record<string, unknown>> };
    expect(next.value.filter((i) => i.deleted)).toEqual([{ id: folder.id, deleted: { state: 'deleted' }, parentReference: expect.anything() as unknown }]);

    emulator.restore(folder.id);
    const live = emulator.addFile('/', 'y.txt', 'y');
    emulator.refuseDownloads(live.id, 401, 1);
    const location = (await graph(`/drives/${emulator.drive.id}/items/${live.id}/content`, token)).headers.get('location') ?? '';
    expect((await fetch(location)).status).toBe(401);
    const again = (await graph(`/drives/${emulator.drive.id}/items/${live.id}/content`, token)).headers.get('location') ?? '';
    expect((await fetch(again)).status).toBe(200);

    emulator.loseDeltaTokens();
    expect((await graph(first['@odata.deltaLink'], token)).status).toBe(404);
    expect((await graph(`/drives/${emulator.drive.id}`, token)).status).toBe(200);
  });

  it('lists a site\'s libraries and finds the site by its path', async () => {
    emulator.store.addLibrary(EMULATOR_SITE_ID, 'Contracts');
    const token = await appToken();
    const byId = (await (await graph(`/sites/${EMULATOR_SITE_ID}/drives`, token)).json()) as { value: Array<{ name: string }> };
    expect(byId.value.map((d) => d.name)).toEqual(['Documents', 'Contracts']);
    const byPath = (await (await graph(`/sites/${EMULATOR_SITE_PATH}/drives`, token)).json()) as { value: Array<{ name: string }> };
    expect(byPath.value).toEqual(byId.value);
    expect((await graph('/sites/contoso.example:/sites/nowhere:/drives', token)).status).toBe(404);
  });

  it('refuses an app nobody consented to, and a user at a tenant not theirs', async () => {
    emulator.identity.registerClient('unconsented', { secret: 's', tenantId: EMULATOR_TENANT, adminConsented: false });
    const response = await fetch(`${emulator.loginBaseUrl}/${EMULATOR_TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'unconsented', client_secret: 's', scope: 'https://graph.microsoft.com/.default' }),
    });
    const { access_token: roleless } = (await response.json()) as { access_token: string };
    expect(await (await graph(`/drives/${emulator.drive.id}`, roleless)).json()).toMatchObject({ error: { message: expect.stringContaining('roles claim') } });

    const guest = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, 'bob', { userTenant: 'fabrikam' });
    const redeem = (tenant: string) =>
      fetch(`${emulator.loginBaseUrl}/${tenant}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: EMULATOR_CLIENT_ID, client_secret: EMULATOR_CLIENT_SECRET, refresh_token: guest, scope: 'offline_access' }),
      });
    expect(await (await redeem(EMULATOR_TENANT)).json()).toMatchObject({ error: 'invalid_grant', error_codes: [50020] });
    expect((await redeem('organizations')).status).toBe(200);
  });
});
