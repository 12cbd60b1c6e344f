import { describe, expect, it } from 'vitest';
import { MIME } from '../../../src/contract.js';
import { PermanentSourceError, SourceProtocolError } from '../../../src/errors.js';
import { fault, NATIVE, type DriveEmulator } from '../../emulators/drive/index.js';
import { crawl, drain, driveContext, names, providerFor, readAll, upserts, useDriveEmulator } from './harness.js';

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

function someFiles() {
  const root = emu.myDrive();
  return {
    a: emu.addFile(root, 'a.txt', 'aaa', { mimeType: 'text/plain' }),
    b: emu.addFile(root, 'b.txt', 'bbb', { mimeType: 'text/plain' }),
    doc: emu.addNativeFile(root, 'Doc', NATIVE.document, { exports: { [MIME.docx]: 'docx' } }) };
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await work();
  return { result, ms: Date.now() - started };
}

describe('throttling: wait, do not abort', () => {
  it('waits out a 403 rateLimitExceeded until the time its message names, then retries', async () => {
    someFiles();
    emu.fail({ path: '/drive/v3/files', reply: fault.rateLimited(new Date(Date.now() + 600)) });
    const { result, ms } = await timed(() => drain(providerFor(emu), driveContext(emu), null));
    expect(names(result.changes)).toEqual(['Doc.docx', 'a.txt', 'b.txt']);
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(emu.requestsTo('/drive/v3/files').map((r) => r.status).slice(0, 2)).toEqual([403, 200]);
  });

  it('retries userRateLimitExceeded without a hint using backoff', async () => {
    someFiles();
    emu.fail({ path: '/drive/v3/changes/startPageToken', times: 2, reply: fault.rateLimited(undefined, 'userRateLimitExceeded') });
    const result = await drain(providerFor(emu), driveContext(emu), null);
    expect(names(result.changes)).toHaveLength(3);
    expect(emu.requestsTo('/drive/v3/changes/startPageToken').map((r) => r.status)).toEqual([403, 403, 200]);
  });

  it('honours Retry-After on a 429 and a 503', async () => {
    const { a } = someFiles();
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const item = upserts((await crawl(provider, ctx)).changes).find((i) => i.sourceId === a);
    if (!item) throw new Error('a.txt not listed');
    emu.fail({ fileId: a, query: { alt: 'media' }, reply: fault.tooManyRequests(1) });
    emu.fail({ fileId: a, query: { alt: 'media' }, reply: fault.unavailable(0) });
    const { result, ms } = await timed(async () => (await readAll((await provider.openContent(ctx, item)).body)).toString());
    expect(result).toBe('aaa');
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(emu.requestsTo(`/drive/v3/files/${a}`, { alt: 'media' }).map((r) => r.status)).toEqual([429, 503, 200]);
  });

  it('retries a reset connection', async () => {
    someFiles();
    emu.fail({ path: '/drive/v3/files', reply: fault.reset() });
    const result = await drain(providerFor(emu), driveContext(emu), null);
    expect(names(result.changes)).toHaveLength(3);
    expect(emu.requestsTo('/drive/v3/files').map((r) => r.status).slice(0, 2)).toEqual([-1, 200]);
  });
});

describe('failures that stop', () => {
  it('stops the sync on dailyLimitExceeded with an actionable message', async () => {
    someFiles();
    emu.fail({ path: '/drive/v3/files', times: Infinity, reply: fault.dailyLimit() });
    const error = await drain(providerFor(emu), driveContext(emu), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect(error).toMatchObject({ scope: 'sync', code: 'dailyLimitExceeded' });
    expect((error as Error).message).toMatch(/daily API quota .* resets .* next sync resumes from the saved cursor/);
    expect(emu.requestsTo('/drive/v3/files')).toHaveLength(1);
  });

  it.each(['downloadQuotaExceeded', 'cannotDownloadAbusiveFile'])('fails only the one file on %s', async (reason) => {
    const { a, b } = someFiles();
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const items = upserts((await crawl(provider, ctx)).changes);
    emu.fail({ fileId: a, query: { alt: 'media' }, times: Infinity, reply: fault.fileRefused(reason) });
    const itemA = items.find((i) => i.sourceId === a);
    const itemB = items.find((i) => i.sourceId === b);
    if (!itemA || !itemB) throw new Error('missing items');
    const error = await provider.openContent(ctx, itemA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect(error).toMatchObject({ scope: 'item', code: reason });
    expect((error as Error).message).toContain(a);
    expect((await readAll((await provider.openContent(ctx, itemB)).body)).toString()).toBe('bbb');
    expect(emu.requestsTo(`/drive/v3/files/${a}`, { alt: 'media' })).toHaveLength(1);
  });

  it('fails only the one file when its owner forbids export', async () => {
    const { doc } = someFiles();
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const item = upserts((await crawl(provider, ctx)).changes).find((i) => i.sourceId === doc);
    if (!item) throw new Error('doc not listed');
    emu.fail({ path: `/drive/v3/files/${doc}/export`, reply: fault.fileRefused('cannotExportFile', 'This file cannot be exported by the user.') });
    await expect(provider.openContent(ctx, item)).rejects.toMatchObject({ scope: 'item', code: 'cannotExportFile' });
  });

  it('reports a body that is not JSON as a protocol error (left to the retry policy)', async () => {
    someFiles();
    emu.fail({ path: '/drive/v3/files', reply: fault.garbage() });
    const error = await providerFor(emu).listChanges(driveContext(emu), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceProtocolError);
    expect((error as Error).message).toMatch(/not JSON/);
  });

  it('reports an answer of the wrong shape as a protocol error', async () => {
    someFiles();
    emu.fail({ path: '/drive/v3/files', reply: { status: 200, body: { files: [{ name: 'no id' }] } } });
    await expect(providerFor(emu).listChanges(driveContext(emu), null)).rejects.toThrow(/files.list with an unexpected shape \(files.0.id/);
  });
});
