import { describe, expect, it } from 'vitest';
import { SourceProtocolError } from '../../../src/errors.js';
import { type DriveItem, isContainer, lastOccurrences, readDriveItemPage } from '../../../src/providers/microsoft-graph/onedrive/api.js';
import { driveItemSignature, fileChange } from '../../../src/providers/microsoft-graph/onedrive/mapping.js';

const file: DriveItem = {
  id: 'item-1',
  name: 'Quarterly.docx',
  size: 1234,
  cTag: '"c:{item-1},3"',
  eTag: '"{item-1},7"',
  webUrl: 'https://contoso.sharepoint.com/Shared%20Documents/Quarterly.docx',
  file: { mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', hashes: { quickXorHash: 'qxh==' } },
  parentReference: { driveId: 'b!drive', id: 'folder-1' },
};

describe('driveItem mapping', () => {
  it('maps a file to a SourceItem fetched by drive and item id', () => {
    expect(fileChange(file, 'b!fallback')).toEqual({
      kind: 'upsert',
      item: {
        sourceId: 'item-1',
        name: 'Quarterly.docx',
        signature: 'quickXorHash:qxh==',
        contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        size: 1234,
        webUrl: 'https://contoso.sharepoint.com/Shared%20Documents/Quarterly.docx',
        fetch: { driveId: 'b!drive', itemId: 'item-1' },
      },
    });
  });

  it('signs with a content hash first, then cTag, then eTag, each value with its kind', () => {
    expect(driveItemSignature(file)).toBe('quickXorHash:qxh==');
    // Listed by delta on Business (no cTag) or by /children (with it): the same signature.
    expect(driveItemSignature({ ...file, cTag: undefined })).toBe(driveItemSignature(file));
    expect(driveItemSignature({ ...file, file: { hashes: { sha256Hash: 'AB12' } } })).toBe('sha256:AB12');
    expect(driveItemSignature({ ...file, file: {} })).toBe('cTag:"c:{item-1},3"');
    expect(driveItemSignature({ ...file, cTag: undefined, file: {} })).toBe('eTag:"{item-1},7"');
  });

  it('skips a file the malware scan flagged, with the reason', () => {
    expect(fileChange({ ...file, malware: { description: 'Trojan' } }, 'd')).toEqual({
      kind: 'skip',
      sourceId: 'item-1',
      name: 'Quarterly.docx',
      reason: 'Microsoft flagged this file as malware and will not serve its bytes',
    });
  });

  it('keeps the signature across a rename (only eTag changes)', () => {
    const renamed = { ...file, name: 'Q3.docx', eTag: '"{item-1},8"' };
    expect(driveItemSignature(renamed)).toBe(driveItemSignature(file));
  });

  it('takes the type from the extension when Graph declares a generic one', () => {
    const change = fileChange({ ...file, name: 'slides.pptx', file: { mimeType: 'application/octet-stream' } }, 'd');
    expect(change).toMatchObject({ item: { contentType: 'application/vnd.openxmlformats-officedocument.presentationml.presentation' } });
  });

  it('uses the drive of the listing when the item does not name one', () => {
    expect(fileChange({ ...file, parentReference: undefined }, 'b!listing')).toMatchObject({ item: { fetch: { driveId: 'b!listing' } } });
  });

  it('skips, with a reason, what it cannot track or is not a file', () => {
    expect(fileChange({ ...file, cTag: undefined, eTag: undefined, file: {} }, 'd')).toMatchObject({ kind: 'skip', sourceId: 'item-1' });
    expect(fileChange({ id: 'remote', name: 'shared.docx' }, 'd')).toMatchObject({ kind: 'skip', reason: expect.stringContaining('not a file') });
  });

  it('knows folders, notebooks and the root hold items', () => {
    expect([{ folder: {} }, { package: {} }, { root: {} }, { file: {} }].map((facet) => isContainer({ id: 'x', ...facet }))).toEqual([true, true, true, false]);
  });

  it('keeps the last occurrence of an item, at its last position', () => {
    const pages = lastOccurrences([
      { id: 'a', name: 'v1' },
      { id: 'b', name: 'b' },
      { id: 'a', name: 'v2' },
    ]);
    expect(pages.map((i) => `${i.id}:${i.name}`)).toEqual(['b:b', 'a:v2']);
  });

  it('refuses a page Graph would not send', () => {
    expect(() => readDriveItemPage({ value: [{ name: 'no id' }] }, 'GET delta')).toThrow(SourceProtocolError);
    expect(() => readDriveItemPage({ items: [] }, 'GET delta')).toThrow(/value/);
    expect(readDriveItemPage({ value: [], '@odata.deltaLink': 'x' }, 'GET delta')['@odata.deltaLink']).toBe('x');
  });
});
