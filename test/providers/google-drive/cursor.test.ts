import { describe, expect, it } from 'vitest';
import { MAX_CHANGE_LOGS, parseDriveCursor } from '../../../src/providers/google-drive/cursor.js';

const crawl = {
  v: 1,
  phase: 'crawl',
  scope: 'folder:F1',
  logs: [{ root: 'F1', token: '42' }],
  pending: [{ folderId: 'F2', mode: 'upsert' }],
  current: { folderId: 'F1', mode: 'upsert', pageToken: 'p2' },
};
const changes = { v: 1, phase: 'changes', scope: 'drive:D1', logs: [{ driveId: 'D1', root: 'D1', token: '99' }], pending: [], current: null, next: 0 };

describe('parseDriveCursor', () => {
  it('reads back both phases as saved', () => {
    expect(parseDriveCursor(JSON.parse(JSON.stringify(crawl)))).toEqual(crawl);
    expect(parseDriveCursor(changes)).toEqual(changes);
  });

  it('turns anything malformed into null (a new full enumeration)', () => {
    const broken: unknown[] = [
      null,
      undefined,
      'token',
      {},
      { ...crawl, v: 2 },
      { ...crawl, phase: 'delta' },
      { ...crawl, logs: [] },
      { ...crawl, logs: [{ root: 'F1' }] },
      { ...crawl, pending: [{ folderId: 'F2', mode: 'move' }] },
      { ...crawl, current: { folderId: '', mode: 'upsert' } },
      { ...crawl, scope: '' },
      { ...changes, next: -1 },
      { ...changes, next: 2 },
      { ...changes, next: 0.5 },
      { ...changes, next: undefined },
    ];
    for (const raw of broken) expect(parseDriveCursor(raw), JSON.stringify(raw)).toBeNull();
  });

  it('accepts next === logs.length (a pass that ended) but no more', () => {
    expect(parseDriveCursor({ ...changes, next: 1 })).not.toBeNull();
  });

  it('bounds the number of change logs a cursor may carry', () => {
    const logs = Array.from({ length: MAX_CHANGE_LOGS + 1 }, (_, i) => ({ driveId: `D${i}`, root: `D${i}`, token: '1' }));
    expect(parseDriveCursor({ ...changes, logs })).toBeNull();
    expect(parseDriveCursor({ ...changes, logs: logs.slice(0, MAX_CHANGE_LOGS) })).not.toBeNull();
  });
});
