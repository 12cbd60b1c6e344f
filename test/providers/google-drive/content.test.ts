import { describe, expect, it } from 'vitest';
import { MIME } from '../../../src/contract.js';
import { PermanentSourceError } from '../../../src/errors.js';
import type { SourceItem } from '../../../src/providers/types.js';
import { EXPORT_SIZE_LIMIT, NATIVE, type DriveEmulator } from '../../emulators/drive/index.js';
import { crawl, driveContext, providerFor, readAll, skips, upserts, useDriveEmulator } from './harness.js';

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

const allExports = (label: string) => ({
  [MIME.docx]: `${label} as docx`,
  [MIME.pdf]: `${label} as pdf`,
  [MIME.pptx]: `${label} as pptx`,
  [MIME.markdown]: `${label} as md`,
  'image/png': `${label} as png` });

function nativeFiles() {
  const root = emu.myDrive();
  return {
    doc: emu.addNativeFile(root, 'Plan', NATIVE.document, { exports: allExports('plan') }),
    docWithExt: emu.addNativeFile(root, 'Notes.docx', NATIVE.document, { exports: allExports('notes') }),
    sheet: emu.addNativeFile(root, 'Budget', NATIVE.spreadsheet, { exports: allExports('budget') }),
    slides: emu.addNativeFile(root, 'Deck', NATIVE.presentation, { exports: allExports('deck') }),
    drawing: emu.addNativeFile(root, 'Sketch', NATIVE.drawing, { exports: allExports('sketch') }),
    form: emu.addNativeFile(root, 'Survey', NATIVE.form),
    site: emu.addNativeFile(root, 'Intranet', NATIVE.site),
    map: emu.addNativeFile(root, 'Offices', NATIVE.map),
    jam: emu.addNativeFile(root, 'Board', NATIVE.jam),
    unknown: emu.addNativeFile(root, 'Future', 'application/vnd.google-apps.hologram') };
}

const byName = (items: SourceItem[], name: string): SourceItem => {
  const item = items.find((i) => i.name === name);
  if (!item) throw new Error(`no item ${name} in ${items.map((i) => i.name).join(', ')}`);
  return item;
};

describe('Google-native files', () => {
  it('are listed as their exports (DOCX, PPTX, PDF) with matching names, never as google-apps types', async () => {
    const ids = nativeFiles();
    const items = upserts((await crawl(providerFor(emu), driveContext(emu))).changes);
    expect(items.map((i) => [i.name, i.contentType]).sort()).toEqual(
      [
        ['Budget.pdf', MIME.pdf],
        ['Deck.pptx', MIME.pptx],
        ['Notes.docx', MIME.docx],
        ['Plan.docx', MIME.docx],
        ['Sketch.pdf', MIME.pdf],
      ].sort(),
    );
    expect(byName(items, 'Plan.docx')).toMatchObject({ sourceId: ids.doc, signature: expect.stringMatching(/^mt:.+:docx$/), fetch: { fileId: ids.doc, export: MIME.docx } });
  });

  it('opens the export bytes through files.export', async () => {
    const ids = nativeFiles();
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const items = upserts((await crawl(provider, ctx)).changes);
    const content = await provider.openContent(ctx, byName(items, 'Deck.pptx'));
    expect((await readAll(content.body)).toString()).toBe('deck as pptx');
    expect(content.contentType).toBe(MIME.pptx);
    expect(emu.counters.exports.get(ids.slides)).toBe(1);
    expect(emu.requestsTo(`/drive/v3/files/${ids.slides}/export`, { mimeType: MIME.pptx })).toHaveLength(1);
  });

  it('exports a Doc of a shared drive through files.export, which takes only mimeType', async () => {
    const sales = emu.addSharedDrive('Sales');
    const doc = emu.addNativeFile(sales, 'Pricing', NATIVE.document, { exports: allExports('pricing') });
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { drive_id: sales });
    const item = byName(upserts((await crawl(provider, ctx)).changes), 'Pricing.docx');
    const content = await provider.openContent(ctx, item);
    expect((await readAll(content.body)).toString()).toBe('pricing as docx');
    expect(emu.counters.exports.get(doc)).toBe(1);
    expect(emu.requestsTo(`/drive/v3/files/${doc}/export`).map((r) => r.query)).toEqual([{ mimeType: MIME.docx }]);
  });

  it('follows the connector export_formats override', async () => {
    nativeFiles();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { export_formats: { document: 'application/pdf', 'application/vnd.google-apps.drawing': 'image/png' } });
    const items = upserts((await crawl(provider, ctx)).changes);
    expect(byName(items, 'Plan.pdf')).toMatchObject({ contentType: MIME.pdf, signature: expect.stringMatching(/^mt:.+:pdf$/) });
    expect(byName(items, 'Notes.docx.pdf').contentType).toBe(MIME.pdf);
    expect(byName(items, 'Sketch.png').contentType).toBe('image/png');
    expect(byName(items, 'Deck.pptx').contentType).toBe(MIME.pptx);
    const body = await readAll((await provider.openContent(ctx, byName(items, 'Plan.pdf'))).body);
    expect(body.toString()).toBe('plan as pdf');
  });

  it('skips forms, sites, maps, jams and unknown Google types with the reason', async () => {
    const ids = nativeFiles();
    const skipped = skips((await crawl(providerFor(emu), driveContext(emu))).changes);
    expect(skipped.map((s) => [s.sourceId, s.reason]).sort()).toEqual(
      [
        [ids.form, `no export configured for Google Forms (${NATIVE.form})`],
        [ids.site, `no export configured for Google Sites (${NATIVE.site})`],
        [ids.map, `no export configured for Google My Maps (${NATIVE.map})`],
        [ids.jam, `no export configured for Jamboard (${NATIVE.jam})`],
        [ids.unknown, 'no export configured for application/vnd.google-apps.hologram (application/vnd.google-apps.hologram)'],
      ].sort(),
    );
    expect(emu.counters.exports.size).toBe(0);
  });

  it('fetches an export over 10 MB through the exportLinks URL with the bearer token', async () => {
    const big = emu.addNativeFile(emu.myDrive(), 'Handbook', NATIVE.document, {
      exports: { [MIME.docx]: 'the whole handbook' },
      exportSize: EXPORT_SIZE_LIMIT + 1 });
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const item = byName(upserts((await crawl(provider, ctx)).changes), 'Handbook.docx');
    expect(item.fetch.exportLink).toMatch(/\/feeds\/download\/export\?/);
    const content = await provider.openContent(ctx, item);
    expect((await readAll(content.body)).toString()).toBe('the whole handbook');
    expect(content.contentType).toBe(MIME.docx);
    expect(emu.requestsTo(`/drive/v3/files/${big}/export`)[0]?.status).toBe(403);
    expect(emu.counters.exports.get(big)).toBeUndefined();
    expect(emu.counters.exportLinkDownloads.get(big)).toBe(1);
  });

  it('looks the export link up when the item does not carry one', async () => {
    const big = emu.addNativeFile(emu.myDrive(), 'Handbook', NATIVE.document, { exports: { [MIME.docx]: 'big' }, exportSize: EXPORT_SIZE_LIMIT + 1 });
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const content = await provider.openContent(ctx, {
      sourceId: big,
      name: 'Handbook.docx',
      signature: 'v:1:docx',
      contentType: MIME.docx,
      fetch: { fileId: big, export: MIME.docx } });
    expect((await readAll(content.body)).toString()).toBe('big');
    expect(emu.requestsTo(`/drive/v3/files/${big}`, { fields: 'id,exportLinks' })).toHaveLength(1);
  });

  it('never sends the token to an export link outside Google', async () => {
    const big = emu.addNativeFile(emu.myDrive(), 'Handbook', NATIVE.document, { exports: { [MIME.docx]: 'big' }, exportSize: EXPORT_SIZE_LIMIT + 1 });
    const error = await providerFor(emu)
      .openContent(driveContext(emu), {
        sourceId: big,
        name: 'Handbook.docx',
        signature: 'v:1:docx',
        contentType: MIME.docx,
        fetch: { fileId: big, export: MIME.docx, exportLink: 'https://attacker.example/steal' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect(error).toMatchObject({ code: 'untrustedExportLink', scope: 'item' });
  });
});

describe('binary files', () => {
  it('stream their bytes from alt=media with the declared type and size', async () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const id = emu.addFile(emu.myDrive(), 'photo.png', bytes, { mimeType: 'image/png' });
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const item = byName(upserts((await crawl(provider, ctx)).changes), 'photo.png');
    expect(item).toMatchObject({ size: 70_000, contentType: 'image/png', signature: expect.stringMatching(/^md5:[0-9a-f]{32}$/) });
    const content = await provider.openContent(ctx, item);
    expect((await readAll(content.body)).equals(bytes)).toBe(true);
    expect(content).toMatchObject({ contentType: 'image/png', size: 70_000 });
    expect(emu.counters.downloads.get(id)).toBe(1);
    expect(emu.requestsTo(`/drive/v3/files/${id}`, { alt: 'media', supportsAllDrives: 'true' })).toHaveLength(1);
  });

  it('report a file deleted since listing as a per-item failure', async () => {
    const id = emu.addFile(emu.myDrive(), 'gone.txt', 'x', { mimeType: 'text/plain' });
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const item = byName(upserts((await crawl(provider, ctx)).changes), 'gone.txt');
    emu.remove(id);
    await expect(provider.openContent(ctx, item)).rejects.toMatchObject({ name: 'ItemGoneError', code: 'itemGone', scope: 'item' });
  });

  it('refuse a fetch description that is not ours', async () => {
    await expect(
      providerFor(emu).openContent(driveContext(emu), { sourceId: 'x', name: 'x', signature: 's', contentType: MIME.pdf, fetch: { itemId: 'x' } }),
    ).rejects.toMatchObject({ code: 'invalidFetch', scope: 'item' });
  });
});
