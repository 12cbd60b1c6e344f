import { describe, expect, it } from 'vitest';
import { MIME } from '../../../src/contract.js';
import type { DriveFile } from '../../../src/providers/google-drive/api.js';
import { DEFAULT_EXPORT_FORMATS, mergeExportFormats, withExtension } from '../../../src/providers/google-drive/export-formats.js';
import { mapDriveFile, readDriveFetch } from '../../../src/providers/google-drive/mapping.js';
import { noExportReason } from '../../../workflows/skip-reasons.js';

const file = (overrides: Partial<DriveFile>): DriveFile => ({ id: 'f1', name: 'x', mimeType: 'application/pdf', ...overrides });

describe('mapDriveFile', () => {
  it.each([
    ['application/vnd.google-apps.document', 'Plan', 'Plan.docx', MIME.docx],
    ['application/vnd.google-apps.presentation', 'Deck', 'Deck.pptx', MIME.pptx],
    ['application/vnd.google-apps.spreadsheet', 'Budget', 'Budget.pdf', MIME.pdf],
    ['application/vnd.google-apps.drawing', 'Sketch', 'Sketch.pdf', MIME.pdf],
  ])('stores %s as its export by default', (mimeType, name, storedName, contentType) => {
    const change = mapDriveFile(file({ id: 'n1', name, mimeType, version: '17', webViewLink: 'https://docs.google.com/x' }), DEFAULT_EXPORT_FORMATS);
    expect(change).toEqual({
      kind: 'upsert',
      item: {
        sourceId: 'n1',
        name: storedName,
        contentType,
        signature: `v:17:${storedName.split('.').pop()}`,
        webUrl: 'https://docs.google.com/x',
        fetch: { fileId: 'n1', export: contentType },
      },
    });
  });

  it('never records the google-apps type, which the ingestor rejects', () => {
    const change = mapDriveFile(file({ mimeType: 'application/vnd.google-apps.document', version: '1' }), DEFAULT_EXPORT_FORMATS);
    expect(change.kind === 'upsert' && change.item.contentType).toBe(MIME.docx);
  });

  it('keeps the export link of the chosen type for exports over 10 MB', () => {
    const change = mapDriveFile(
      file({ mimeType: 'application/vnd.google-apps.presentation', version: '3', exportLinks: { [MIME.pptx]: 'https://docs.google.com/e?x=pptx', [MIME.pdf]: 'https://docs.google.com/e?x=pdf' } }),
      DEFAULT_EXPORT_FORMATS,
    );
    expect(change.kind === 'upsert' && change.item.fetch).toEqual({ fileId: 'f1', export: MIME.pptx, exportLink: 'https://docs.google.com/e?x=pptx' });
  });

  it('changes the signature when the export format changes, so new bytes are fetched', () => {
    const doc = file({ mimeType: 'application/vnd.google-apps.document', version: '5' });
    const merged = mergeExportFormats({ document: 'pdf' });
    if (!merged.ok) throw new Error(merged.error);
    const asDocx = mapDriveFile(doc, DEFAULT_EXPORT_FORMATS);
    const asPdf = mapDriveFile(doc, merged.formats);
    expect(asDocx.kind === 'upsert' && asPdf.kind === 'upsert' && asDocx.item.signature !== asPdf.item.signature).toBe(true);
    expect(asPdf.kind === 'upsert' && asPdf.item.name).toBe('x.pdf');
  });

  it.each(['form', 'site', 'map', 'jam', 'fusiontable', 'script', 'some-future-type'])('skips application/vnd.google-apps.%s with a reason', (kind) => {
    expect(mapDriveFile(file({ id: 'g1', name: 'Survey', mimeType: `application/vnd.google-apps.${kind}` }), DEFAULT_EXPORT_FORMATS)).toEqual({
      kind: 'skip',
      sourceId: 'g1',
      name: 'Survey',
      reason: noExportReason(`application/vnd.google-apps.${kind}`),
    });
  });

  it('signs binary files by md5, falling back to version, and keeps their size', () => {
    const withMd5 = mapDriveFile(file({ md5Checksum: 'abc', version: '9', size: '1234', name: 'a.pdf' }), DEFAULT_EXPORT_FORMATS);
    expect(withMd5).toMatchObject({ kind: 'upsert', item: { signature: 'md5:abc', size: 1234, name: 'a.pdf', contentType: MIME.pdf, fetch: { fileId: 'f1' } } });
    const noMd5 = mapDriveFile(file({ version: '9' }), DEFAULT_EXPORT_FORMATS);
    expect(noMd5.kind === 'upsert' && noMd5.item.signature).toBe('v:9');
    const nothing = mapDriveFile(file({ modifiedTime: '2026-01-01T00:00:00Z' }), DEFAULT_EXPORT_FORMATS);
    expect(nothing.kind === 'upsert' && nothing.item.signature).toBe('modified:2026-01-01T00:00:00Z');
  });

  it('takes the type from the extension when Drive says octet-stream', () => {
    const change = mapDriveFile(file({ name: 'notes.md', mimeType: 'application/octet-stream', md5Checksum: 'a' }), DEFAULT_EXPORT_FORMATS);
    expect(change.kind === 'upsert' && change.item.contentType).toBe(MIME.markdown);
  });
});

describe('withExtension', () => {
  it('adds the extension once', () => {
    expect(withExtension('Plan', 'docx')).toBe('Plan.docx');
    expect(withExtension('Plan.docx', 'docx')).toBe('Plan.docx');
    expect(withExtension('Plan.DOCX', 'docx')).toBe('Plan.DOCX');
    expect(withExtension('Plan.docx', 'pdf')).toBe('Plan.docx.pdf');
    expect(withExtension('', 'pdf')).toBe('Untitled.pdf');
  });
});

describe('mergeExportFormats', () => {
  it('accepts full MIME types and short names', () => {
    const merged = mergeExportFormats({ 'application/vnd.google-apps.document': 'text/markdown', slides: 'pdf', drawing: 'png' });
    expect(merged).toEqual({
      ok: true,
      formats: {
        'application/vnd.google-apps.document': MIME.markdown,
        'application/vnd.google-apps.presentation': MIME.pdf,
        'application/vnd.google-apps.spreadsheet': MIME.pdf,
        'application/vnd.google-apps.drawing': 'image/png',
      },
    });
  });

  it('refuses targets the ingestor rejects and types that cannot be exported, naming the entry but not the value', () => {
    const csv = mergeExportFormats({ spreadsheet: 'text/csv' });
    expect(csv.ok).toBe(false);
    expect(!csv.ok && csv.error).toMatch(/^maps "spreadsheet" to a type EchoMind cannot ingest for it; use one of application\/pdf$/);
    const form = mergeExportFormats({ 'application/vnd.google-apps.form': 'application/pdf' });
    expect(!form.ok && form.error).toMatch(/^names "application\/vnd.google-apps.form", which is not an exportable Google type/);
    expect(mergeExportFormats(['pdf']).ok).toBe(false);
    expect(mergeExportFormats({ document: 3 }).ok).toBe(false);
  });
});

describe('readDriveFetch', () => {
  it('reads our fetch description back and refuses foreign ones', () => {
    expect(readDriveFetch({ fileId: 'a', export: MIME.pdf, exportLink: 'https://x' })).toEqual({ fileId: 'a', export: MIME.pdf, exportLink: 'https://x' });
    expect(readDriveFetch({ fileId: 'a', export: '' })).toEqual({ fileId: 'a' });
    expect(readDriveFetch({ driveId: 'd', itemId: 'i' })).toBeNull();
  });
});
