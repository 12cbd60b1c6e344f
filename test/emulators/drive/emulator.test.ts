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

  it('shows a shared-drive folder shared with a non-member, but answers 404 to its drive-scoped calls', async () => {
    const drive = emu.addSharedDrive('Legal', ['manager@example.com']);
    const folder = emu.addFolder(drive, 'Contracts');
    const file = emu.addFile(folder, 'nda.pdf', 'nda');
    emu.share(folder, DEFAULT_USER);
    expect((await get(`/drive/v3/files/${file}?supportsAllDrives=true`)).status).toBe(200);
    expect((await get(`/drive/v3/drives/${drive}`)).status).toBe(404);
    expect((await get(`/drive/v3/files?corpora=drive&driveId=${drive}&supportsAllDrives=true&includeItemsFromAllDrives=true`)).status).toBe(404);
    expect((await get(`/drive/v3/changes/startPageToken?driveId=${drive}&supportsAllDrives=true`)).status).toBe(404);
    const listed = await get(`/drive/v3/files?corpora=allDrives&supportsAllDrives=true&includeItemsFromAllDrives=true&q=${encodeURIComponent(`'${folder}' in parents`)}`);
    expect(((await listed.json()) as { files: Array<{ id: string }> }).files.map((f) => f.id)).toEqual([file]);
  });

  it("keeps a member drive's changes out of the user log, and puts a non-member's shared items in it", async () => {
    const start = ((await (await get('/drive/v3/changes/startPageToken')).json()) as { startPageToken: string }).startPageToken;
    const member = emu.addSharedDrive('Sales');
    emu.addFile(member, 'deck.pdf', 'deck');
    const other = emu.addSharedDrive('Legal', ['manager@example.com']);
    const folder = emu.addFolder(other, 'Contracts');
    emu.share(folder, DEFAULT_USER);
    const nda = emu.addFile(folder, 'nda.pdf', 'nda');
    const all = 'supportsAllDrives=true&includeItemsFromAllDrives=true&fields=changes(changeType,fileId,driveId,removed)';
    const userLog = (await (await get(`/drive/v3/changes?pageToken=${start}&${all}`)).json()) as { changes: Array<{ fileId?: string }> };
    expect(userLog.changes.map((c) => c.fileId)).toEqual([folder, nda]);
    emu.removeMember(member, DEFAULT_USER);
    const later = (await (await get(`/drive/v3/changes?pageToken=${start}&${all}`)).json()) as { changes: unknown[] };
    expect(later.changes).toContainEqual({ changeType: 'drive', driveId: member, removed: true });
  });

  it('answers 404 for a link-shared item without its resource key, and serves it with the key', async () => {
    const colleague = emu.addUser('colleague@example.com');
    const file = emu.addFile(colleague, 'memo.pdf', 'memo');
    const key = emu.shareByLink(file);
    expect((await get(`/drive/v3/files/${file}?alt=media`)).status).toBe(404);
    const withKey = await get(`/drive/v3/files/${file}?alt=media`, { 'X-Goog-Drive-Resource-Keys': `${file}/${key}` });
    expect(withKey.status).toBe(200);
    expect(await withKey.text()).toBe('memo');
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
