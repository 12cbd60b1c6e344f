import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_USER, fault, NATIVE, startDriveEmulator, type DriveEmulator } from './index.js';

/** The emulator's own promises, where the source tests do not already pin them down. */

let emu: DriveEmulator;
let token: string;
beforeAll(async () => {
  emu = await startDriveEmulator();
});
afterAll(() => emu.close());
beforeEach(() => {
  emu.reset();
  token = emu.identity.issueAccessToken(DEFAULT_USER);
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${emu.driveBaseUrl}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });

describe('drive emulator', () => {
  it('binds to 127.0.0.1 on an ephemeral port', () => {
    expect(emu.driveBaseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emu.tokenUrl).toBe(`${emu.driveBaseUrl}/token`);
  });

  it('requires a valid bearer token on every Drive call, export links included', async () => {
    const id = emu.addNativeFile(emu.myDrive(), 'Doc', NATIVE.document, { exports: { 'application/pdf': 'pdf' } });
    for (const path of ['/drive/v3/files', `/drive/v3/files/${id}`, '/drive/v3/changes/startPageToken', `/feeds/download/export?id=${id}&mimeType=application%2Fpdf`]) {
      expect((await fetch(`${emu.driveBaseUrl}${path}`)).status).toBe(401);
      expect((await get(path)).status).toBe(200);
    }
    emu.expireAccessTokens();
    expect((await get('/drive/v3/files')).status).toBe(401);
  });

  it('serves byte ranges of a download', async () => {
    const id = emu.addFile(emu.myDrive(), 'a.bin', '0123456789');
    const partial = await get(`/drive/v3/files/${id}?alt=media`, { range: 'bytes=2-5' });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(await partial.text()).toBe('2345');
    expect((await get(`/drive/v3/files/${id}?alt=media`, { range: 'bytes=20-' })).status).toBe(416);
  });

  it('returns only the fields asked for, with Drive defaults otherwise', async () => {
    const id = emu.addFile(emu.myDrive(), 'a.txt', 'abc', { mimeType: 'text/plain' });
    expect(await (await get(`/drive/v3/files/${id}`)).json()).toEqual({ kind: 'drive#file', id, name: 'a.txt', mimeType: 'text/plain' });
    expect(await (await get(`/drive/v3/files/${id}?fields=id,size,parents`)).json()).toEqual({ id, size: '3', parents: [emu.myDrive()] });
    expect((await get(`/drive/v3/files/${id}?fields=id,(`)).status).toBe(400);
  });

  it('hides shared-drive items from requests without supportsAllDrives, and non-members', async () => {
    const drive = emu.addSharedDrive('Team');
    const id = emu.addFile(drive, 'a.txt', 'abc');
    expect((await get(`/drive/v3/files/${id}`)).status).toBe(404);
    expect((await get(`/drive/v3/files/${id}?supportsAllDrives=true`)).status).toBe(200);
    const outsider = emu.identity.issueAccessToken('outsider@example.com');
    const asOutsider = await fetch(`${emu.driveBaseUrl}/drive/v3/files/${id}?supportsAllDrives=true`, { headers: { authorization: `Bearer ${outsider}` } });
    expect(asOutsider.status).toBe(404);
    expect((await get(`/drive/v3/files?corpora=drive&driveId=${drive}`)).status).toBe(400);
  });

  it('refuses unknown queries and forged page tokens with 400', async () => {
    expect((await get(`/drive/v3/files?q=${encodeURIComponent("fullText contains 'x'")}`)).status).toBe(400);
    const forged = await get('/drive/v3/files?pageToken=abc');
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({ error: { errors: [{ location: 'pageToken' }] } });
    expect((await get('/drive/v3/changes?pageToken=x')).status).toBe(400);
  });

  it('reports one change per file (its latest) and removals', async () => {
    const start = ((await (await get('/drive/v3/changes/startPageToken')).json()) as { startPageToken: string }).startPageToken;
    const a = emu.addFile(emu.myDrive(), 'a.txt', '1');
    emu.update(a, { content: '2' });
    const b = emu.addFile(emu.myDrive(), 'b.txt', '1');
    emu.remove(b);
    const body = (await (await get(`/drive/v3/changes?pageToken=${start}&fields=newStartPageToken,changes(fileId,removed,file(version))`)).json()) as {
      changes: Array<{ fileId: string; removed: boolean; file?: { version: string } }>;
      newStartPageToken: string;
    };
    expect(body.changes).toEqual([
      { fileId: a, removed: false, file: { version: '2' } },
      { fileId: b, removed: true },
    ]);
    expect(Number(body.newStartPageToken)).toBeGreaterThan(Number(start));
  });

  it('applies a fault the given number of times, then answers normally', async () => {
    emu.fail({ path: '/drive/v3/drives', times: 2, reply: fault.tooManyRequests(3) });
    const first = await get('/drive/v3/drives');
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('3');
    expect((await get('/drive/v3/drives')).status).toBe(429);
    expect((await get('/drive/v3/drives')).status).toBe(200);
    expect(emu.counters.requests.get('GET /drive/v3/drives')).toBe(3);
  });

  it('refuses a token request with a wrong grant type or a tampered assertion', async () => {
    const post = (form: Record<string, string>) => fetch(emu.tokenUrl, { method: 'POST', body: new URLSearchParams(form) });
    expect((await post({ grant_type: 'password' })).status).toBe(400);
    const key = emu.createServiceAccount();
    const claims = Buffer.from(JSON.stringify({ iss: key.email, aud: emu.tokenUrl, scope: 'https://www.googleapis.com/auth/drive.readonly' })).toString('base64url');
    const header = Buffer.from(JSON.stringify({ alg: 'RS256' })).toString('base64url');
    const tampered = await post({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${header}.${claims}.c2lnbmF0dXJl` });
    expect(tampered.status).toBe(400);
    expect(await tampered.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
