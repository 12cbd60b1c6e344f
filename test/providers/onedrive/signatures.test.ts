import { describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { oneDriveContext, providerFor, upserts, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));

/**
 * One file, one signature, however it is listed. The emulator's drive is a Business one:
 * its delta leaves cTag out, as Graph's reference says; /children and item GETs return it.
 */

const signatureOf = (changes: Parameters<typeof upserts>[0], id: string) => upserts(changes).find((i) => i.sourceId === id)?.signature;

describe('OneDrive signatures', () => {
  it('gives a file the same signature from delta (no cTag) and from /children (with cTag)', async () => {
    emulator.addFolder('/', 'Projects');
    emulator.addFolder('/', 'Archive');
    const file = emulator.addFile('/Archive', 'report.pdf', '%PDF');
    const provider = providerFor(emulator);

    // The whole drive by delta.
    const viaDelta = await walk(provider, oneDriveContext(emulator), null);
    // A folder scope that the folder moves into: its files are listed by /children.
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const { cursor } = await walk(provider, ctx, null);
    emulator.move('/Archive', '/Projects');
    const viaChildren = await walk(provider, ctx, cursor);

    expect(emulator.requestCount(/\/children$/)).toBeGreaterThan(0);
    expect(signatureOf(viaDelta.changes, file.id)).toMatch(/^quickXorHash:/);
    expect(signatureOf(viaChildren.changes, file.id)).toBe(signatureOf(viaDelta.changes, file.id));
  });

  it('asks for the cTag of a file delta sent without hash or cTag, so a rename keeps its signature', async () => {
    const file = emulator.addFile('/', 'never-downloaded.docx', 'bytes', { withoutHash: true });
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const first = await walk(provider, ctx, null);

    emulator.rename(file.id, 'renamed.docx');
    const second = await walk(provider, ctx, first.cursor);

    expect(signatureOf(first.changes, file.id)).toMatch(/^cTag:/);
    expect(upserts(second.changes)).toMatchObject([{ name: 'renamed.docx', signature: signatureOf(first.changes, file.id) }]);
    expect(emulator.requestCount(new RegExp(`/items/${file.id}$`))).toBe(2); // one GET per listing that lacked both
  });

  it('a forbidden or garbled cTag lookup leaves that file signed as delta listed it, and the page goes on', async () => {
    const forbidden = emulator.addFile('/', 'secret.docx', 'bytes', { withoutHash: true });
    const garbled = emulator.addFile('/', 'odd.docx', 'bytes', { withoutHash: true });
    const plain = emulator.addFile('/', 'plain.txt', 'bytes');
    // SharePoint permissions are per item: the GET of one file can be refused while delta lists it.
    emulator.faults.push({ match: new RegExp(`/items/${forbidden.id}$`), status: 403, code: 'accessDenied' });
    emulator.faults.push({ match: new RegExp(`/items/${garbled.id}$`), garbage: true });

    const { changes } = await walk(providerFor(emulator), oneDriveContext(emulator), null);

    expect(upserts(changes).map((i) => i.sourceId).sort()).toEqual([forbidden.id, garbled.id, plain.id].sort());
    expect(signatureOf(changes, forbidden.id)).toMatch(/^eTag:/);
    expect(signatureOf(changes, garbled.id)).toMatch(/^eTag:/);
    expect(signatureOf(changes, plain.id)).toMatch(/^quickXorHash:/);
  });

  it('changes the signature when the bytes change', async () => {
    const file = emulator.addFile('/', 'a.txt', 'one', { withoutHash: true });
    const other = emulator.addFile('/', 'b.txt', 'one');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const first = await walk(provider, ctx, null);

    emulator.updateFile(file.id, 'two');
    emulator.updateFile(other.id, 'two');
    const second = await walk(provider, ctx, first.cursor);

    expect(signatureOf(second.changes, file.id)).not.toBe(signatureOf(first.changes, file.id));
    expect(signatureOf(second.changes, other.id)).not.toBe(signatureOf(first.changes, other.id));
  });
});
