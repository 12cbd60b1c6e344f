import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ItemWithheldError, PermanentSourceError } from '../../../src/errors.js';
import type { SourceItem } from '../../../src/providers/types.js';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { oneDriveContext, providerFor, readAll, upserts, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));

async function listedItem(name: string): Promise<SourceItem> {
  const { changes } = await walk(providerFor(emulator), oneDriveContext(emulator), null);
  const item = upserts(changes).find((i) => i.name === name);
  if (!item) throw new Error(`${name} was not listed`);
  return item;
}

describe('OneDrive content', () => {
  it('streams the exact bytes through the redirect, without sending our token to the download URL', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const file = emulator.addFile('/', 'video.mp4', bytes, { mimeType: 'video/mp4' });
    const item = await listedItem('video.mp4');

    const content = await providerFor(emulator).openContent(oneDriveContext(emulator), item);
    const received = await readAll(content.body);

    expect(received.equals(bytes)).toBe(true);
    expect(content).toMatchObject({ contentType: 'video/mp4', size: bytes.length });
    expect(emulator.downloads(file.id)).toBe(1);
    expect(emulator.authorizationLeaks).toBe(0);
    const download = emulator.requests.find((r) => r.path.startsWith('/download/'));
    expect(download).toMatchObject({ authorized: false, status: 200 });
    expect(emulator.requests.find((r) => r.path.endsWith(`/items/${file.id}/content`))).toMatchObject({ authorized: true, status: 302 });
  });

  it('fails one item, not the sync, when its bytes are refused (403)', async () => {
    const file = emulator.addFile('/', 'secret.pdf', 'x', { mimeType: 'application/pdf' });
    const item = await listedItem('secret.pdf');
    emulator.faults.push({ match: new RegExp(`/items/${file.id}/content$`), status: 403 });

    const error: unknown = await providerFor(emulator)
      .openContent(oneDriveContext(emulator), item)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentSourceError);
    expect(error).toMatchObject({ scope: 'item', code: 'accessDenied' });
    expect(emulator.downloads(file.id)).toBe(0);
  });

  it('withholds a file restricted to its owner after it was listed: one request, a skip reason, never a retry', async () => {
    const file = emulator.addFile('/', 'payroll.pdf', 'x', { mimeType: 'application/pdf' });
    const item = await listedItem('payroll.pdf');
    const stored = emulator.store.item(file.id);
    if (stored) stored.restrictedToOwner = true;

    const error: unknown = await providerFor(emulator)
      .openContent(oneDriveContext(emulator), item)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ItemWithheldError);
    expect(error).toMatchObject({ scope: 'item', code: 'accessRestricted', reason: expect.stringContaining('restricts this file to its owner') });
    expect(emulator.requestCount(new RegExp(`/items/${file.id}/content$`))).toBe(1);
  });

  it('says an item is gone when the file was deleted since it was listed', async () => {
    const file = emulator.addFile('/', 'gone.txt', 'x');
    const item = await listedItem('gone.txt');
    emulator.delete(file.id);
    await expect(providerFor(emulator).openContent(oneDriveContext(emulator), item)).rejects.toMatchObject({
      name: 'ItemGoneError',
      scope: 'item',
      code: 'itemGone' });
  });

  it('errors on a body cut short of its Content-Length instead of returning fewer bytes', async () => {
    emulator.addFile('/', 'big.pdf', randomBytes(256 * 1024), { mimeType: 'application/pdf' });
    const item = await listedItem('big.pdf');
    emulator.faults.push({ match: /^\/download\//, truncate: true });

    const content = await providerFor(emulator).openContent(oneDriveContext(emulator), item);

    // undici's words for a connection closed mid-body.
    await expect(readAll(content.body)).rejects.toThrow(/other side closed/);
  });

  it('retries a download whose connection is reset before answering', async () => {
    const bytes = randomBytes(1000);
    const file = emulator.addFile('/', 'doc.pdf', bytes);
    const item = await listedItem('doc.pdf');
    emulator.faults.push({ match: /^\/download\//, reset: true });

    const content = await providerFor(emulator).openContent(oneDriveContext(emulator), item);

    expect((await readAll(content.body)).equals(bytes)).toBe(true);
    expect(emulator.requestCount(new RegExp(`/items/${file.id}/content$`))).toBe(2);
  });

  it('gets a fresh download link once when SharePoint\'s link refuses the file (401), without touching our token', async () => {
    const bytes = randomBytes(500);
    const file = emulator.addFile('/', 'budget.xlsx', bytes);
    const item = await listedItem('budget.xlsx');
    const tokensBefore = emulator.identity.tokenRequests.length;
    emulator.refuseDownloads(file.id, 401, 1);

    const content = await providerFor(emulator).openContent(oneDriveContext(emulator), item);

    expect((await readAll(content.body)).equals(bytes)).toBe(true);
    expect(emulator.requestCount(new RegExp(`/items/${file.id}/content$`))).toBe(2); // one fresh /content
    expect(emulator.identity.tokenRequests.length - tokensBefore).toBeLessThanOrEqual(1); // the sign-in of a new context, never a forced refresh
    expect(emulator.requests.filter((r) => r.path.startsWith('/v1.0/') && r.status === 401)).toEqual([]);
  });

  it.each([401, 403] as const)('fails that file alone, never the sync or the sign-in, when its download link keeps answering %i', async (status) => {
    const file = emulator.addFile('/', 'locked.docx', 'x');
    const item = await listedItem('locked.docx');
    emulator.refuseDownloads(file.id, status);
    const ctx = oneDriveContext(emulator);

    const error: unknown = await providerFor(emulator).openContent(ctx, item).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentSourceError);
    expect(error).toMatchObject({ scope: 'item', code: 'downloadRefused', message: expect.stringContaining('sign-in is fine') });
    expect((error as Error).message).not.toMatch(/reconnect/);
    expect(emulator.requestCount(new RegExp(`/items/${file.id}/content$`))).toBe(2); // tried once more, not forever
    expect(ctx.configPatches).toEqual([]); // no refresh token rotated over a refused link
  });

  it('refuses an item whose fetch reference is not a OneDrive one', async () => {
    const item: SourceItem = { sourceId: 'x', name: 'x.txt', signature: 's', contentType: 'text/plain', fetch: { fileId: 'x' } };
    await expect(providerFor(emulator).openContent(oneDriveContext(emulator), item)).rejects.toMatchObject({ name: 'PermanentSourceError', scope: 'item' });
    expect(emulator.requests).toEqual([]);
  });
});
