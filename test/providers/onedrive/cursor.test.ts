import { describe, expect, it } from 'vitest';
import { type OneDriveCursor, parseOneDriveCursor } from '../../../src/providers/microsoft-graph/onedrive/cursor.js';

const base = 'https://graph.microsoft.com/v1.0';
const valid: OneDriveCursor = {
  v: 1,
  driveId: 'b!abc',
  scope: 'drive:b!abc all',
  scopeRootId: null,
  link: `${base}/drives/b!abc/root/delta?token=opaque%3D%3D&$select=id`,
  caughtUp: true,
  enumerating: false,
};

describe('parseOneDriveCursor', () => {
  it('reads back a saved cursor unchanged, the link verbatim', () => {
    const raw: unknown = JSON.parse(JSON.stringify(valid));
    expect(parseOneDriveCursor(raw, base)).toEqual(valid);
  });

  it('keeps a pending relist queue', () => {
    const cursor = { ...valid, relist: [{ folderId: 'f1', parentId: 'p', inScope: true, link: `${base}/drives/b!abc/items/f1/children?$skiptoken=2` }] };
    expect(parseOneDriveCursor(cursor, base)?.relist).toEqual(cursor.relist);
  });

  it.each([
    ['null', null],
    ['a string', 'https://graph.microsoft.com/v1.0/drives/b!abc/root/delta'],
    ['another version', { ...valid, v: 2 }],
    ['no link', { ...valid, link: undefined }],
    ['a link that is not a URL', { ...valid, link: 'token=abc' }],
    ['no drive', { ...valid, driveId: '' }],
    ['a flag of the wrong type', { ...valid, enumerating: 'no' }],
    ['the old original format', { delta_token: 'abc' }],
  ])('returns null for %s', (_what, raw) => {
    expect(parseOneDriveCursor(raw, base)).toBeNull();
  });

  it('returns null for a link to another host, so our token never goes there', () => {
    expect(parseOneDriveCursor({ ...valid, link: 'https://evil.example/v1.0/drives/b!abc/root/delta' }, base)).toBeNull();
    expect(parseOneDriveCursor({ ...valid, link: 'https://graph.microsoft.com/beta/drives/b!abc/root/delta' }, base)).toBeNull();
  });

  it('returns null for a cursor whose link belongs to another drive', () => {
    expect(parseOneDriveCursor({ ...valid, link: `${base}/drives/b!other/root/delta?token=x` }, base)).toBeNull();
    const relist = [{ folderId: 'f1', parentId: null, inScope: false, link: `${base}/drives/b!other/items/f1/children` }];
    expect(parseOneDriveCursor({ ...valid, relist }, base)).toBeNull();
  });
});
