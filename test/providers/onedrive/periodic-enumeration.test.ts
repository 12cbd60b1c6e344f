import { describe, expect, it } from 'vitest';
import { EnumerationDueError } from '../../../src/errors.js';
import { EMULATOR_SITE_ID, type GraphEmulator } from '../../emulators/graph/index.js';
import { deletes, oneDriveContext, providerFor, siteProviderFor, upserts, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));

const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 60 * 60_000).toISOString();

describe('OneDrive periodic full enumeration', () => {
  it('says a full enumeration is due once the period has passed since the last one, and not before', async () => {
    emulator.addFile('/', 'a.txt', 'a');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, full_enumeration_days: 3 });
    const { cursor } = await walk(provider, ctx, null);
    expect(Date.parse(cursor.enumeratedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);

    expect((await provider.listChanges(ctx, { ...cursor, enumeratedAt: daysAgo(2) })).changes).toEqual([]);
    await expect(provider.listChanges(ctx, { ...cursor, enumeratedAt: daysAgo(4) })).rejects.toBeInstanceOf(EnumerationDueError);
    // 0 turns it off; absent, the default is weekly.
    await expect(provider.listChanges(oneDriveContext(emulator, { drive_id: emulator.drive.id, full_enumeration_days: 0 }), { ...cursor, enumeratedAt: daysAgo(400) })).resolves.toBeDefined();
    await expect(provider.listChanges(oneDriveContext(emulator), { ...cursor, enumeratedAt: daysAgo(8) })).rejects.toBeInstanceOf(EnumerationDueError);
  });

  it('finds, by enumerating again, a file whose tombstone never came, without listing the others as changed', async () => {
    const lost = emulator.addFile('/', 'lost.txt', 'lost');
    const kept = emulator.addFile('/', 'kept.txt', 'kept');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, full_enumeration_days: 1 });
    const first = await walk(provider, ctx, null);
    const keptSignature = upserts(first.changes).find((i) => i.sourceId === kept.id)?.signature;

    emulator.store.loseTombstone(lost.id);
    expect((await walk(provider, ctx, first.cursor)).changes).toEqual([]); // delta alone never tells

    const error: unknown = await provider.listChanges(ctx, { ...first.cursor, enumeratedAt: daysAgo(2) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnumerationDueError);
    const again = await walk(provider, ctx, null); // what the pipeline does on a due enumeration: list from scratch, then sweep

    expect(again.pages.at(-1)?.enumerationComplete).toBe(true);
    expect(upserts(again.changes).map((i) => [i.sourceId, i.signature])).toEqual([[kept.id, keptSignature]]); // the sweep will delete lost.txt
    expect(deletes(again.changes)).toEqual([]);
  });

  it('applies to a whole site once its pass is over', async () => {
    emulator.addFile('/', 'a.txt', 'a');
    const provider = siteProviderFor(emulator);
    const ctx = oneDriveContext(emulator, { site_id: EMULATOR_SITE_ID, full_enumeration_days: 1 });
    const { cursor } = await walk(provider, ctx, null);
    await expect(provider.listChanges(ctx, { ...cursor, enumeratedAt: daysAgo(2) })).rejects.toBeInstanceOf(EnumerationDueError);
  });
});
