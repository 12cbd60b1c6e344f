import { describe, expect, it } from 'vitest';
import { PermanentSourceError } from '../../../src/errors.js';
import { DEFAULT_USER, type DriveEmulator } from '../../emulators/drive/index.js';
import { crawl, deletes, driveContext, names, providerFor, skips, syncOnce, upserts, useDriveEmulator, walking } from './harness.js';

/**
 * The scope itself disappearing (a shared drive deleted or left, the synced
 * folder trashed) and shared drives vanishing in the middle of a crawl: never a
 * sync that fails forever with every document still searchable.
 */

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

function salesDrive() {
  const sales = emu.addSharedDrive('Sales', [DEFAULT_USER, 'boss@example.com']);
  const deals = emu.addFolder(sales, 'Deals');
  const deal = emu.addFile(deals, 'deal.pdf', 'deal', { mimeType: 'application/pdf' });
  const pitch = emu.addFile(sales, 'pitch.pdf', 'pitch', { mimeType: 'application/pdf' });
  return { sales, deals, deal, pitch };
}

describe('a lost scope', () => {
  it('drive_id deleted: warned on the sync that finds it, swept on the next, an error naming the removal after that', async () => {
    const { sales } = salesDrive();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { drive_id: sales });
    const first = await syncOnce(provider, ctx, null);
    expect(names(first.changes)).toEqual(['deal.pdf', 'pitch.pdf']);

    emu.deleteSharedDrive(sales);
    const found = await syncOnce(provider, ctx, first.cursor);
    expect(found.restarted).toBe(false); // answered in the same call: not reported as a re-enumeration
    expect(found.swept).toBe(false);
    expect(deletes(found.changes)).toEqual([]);
    expect(skips(found.changes)).toEqual([
      expect.objectContaining({ sourceId: sales, reason: expect.stringMatching(/drive_id.*no shared drive.*still gone at the next sync.*removed/) }),
    ]);

    const swept = await syncOnce(provider, ctx, found.cursor);
    expect(swept.swept).toBe(true);
    expect(swept.changes).toEqual([]);

    const after = syncOnce(provider, ctx, swept.cursor);
    await expect(after).rejects.toBeInstanceOf(PermanentSourceError);
    await expect(after).rejects.toMatchObject({ scope: 'sync', code: 'driveNotFound', message: expect.stringMatching(/were removed from EchoMind/) });
  });

  it('drive_id deleted while its first crawl is pending: the scope is lost, not a sync failing on every retry', async () => {
    const { sales, deals } = salesDrive();
    emu.maxPageSize = 1;
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { drive_id: sales });
    let page = await provider.listChanges(ctx, null);
    while (!walking(page.cursor).pending.some((t) => t.folderId === deals)) page = await provider.listChanges(ctx, page.cursor);
    emu.deleteSharedDrive(sales);
    const rest = await syncOnce(provider, ctx, page.cursor);
    expect(rest.restarted).toBe(false);
    expect(skips(rest.changes)).toEqual([expect.objectContaining({ sourceId: sales, reason: expect.stringMatching(/drive_id/) })]);
    expect(rest.cursor).toMatchObject({ phase: 'lost', checks: 1 });
  });

  it('drive_id left and rejoined before the next sync: enumerated again, nothing swept', async () => {
    const { sales, deal, pitch } = salesDrive();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { drive_id: sales });
    const first = await syncOnce(provider, ctx, null);
    emu.removeMember(sales, DEFAULT_USER);
    const found = await syncOnce(provider, ctx, first.cursor);
    expect(skips(found.changes)).toHaveLength(1);
    emu.store.drives.get(sales)?.members.add(DEFAULT_USER);
    const back = await syncOnce(provider, ctx, found.cursor);
    expect(back.swept).toBe(true); // a full enumeration: what it lists stays
    expect(upserts(back.changes).map((i) => i.sourceId).sort()).toEqual([deal, pitch].sort());
    expect(walking(back.cursor).phase).toBe('changes');
  });

  it('folder_id trashed (its files get no change of their own): the scope is lost, not silently kept', async () => {
    const root = emu.myDrive();
    const team = emu.addFolder(root, 'Team');
    emu.addFile(team, 'a.txt', 'a', { mimeType: 'text/plain' });
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { folder_id: team });
    const first = await syncOnce(provider, ctx, null);
    emu.trash(team);
    const found = await syncOnce(provider, ctx, first.cursor);
    expect(skips(found.changes)).toEqual([expect.objectContaining({ sourceId: team, reason: expect.stringMatching(/folder_id.*trashed/) })]);
    expect((await syncOnce(provider, ctx, found.cursor)).swept).toBe(true);
  });
});

describe('all_shared_drives when a drive disappears', () => {
  it('a drive deleted while its crawl is pending: the sync starts over without it instead of failing', async () => {
    const { sales, deal } = salesDrive();
    const legal = emu.addSharedDrive('Legal');
    emu.addFile(legal, 'nda.pdf', 'nda', { mimeType: 'application/pdf' });
    emu.maxPageSize = 1;
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { all_shared_drives: true });
    // Crawl until Sales is still waiting in the frontier, then delete it.
    let page = await provider.listChanges(ctx, null);
    while (!walking(page.cursor).pending.some((t) => t.folderId === sales)) page = await provider.listChanges(ctx, page.cursor);
    emu.deleteSharedDrive(sales);
    const rest = await syncOnce(provider, ctx, page.cursor);
    expect(rest.restarted).toBe(true);
    expect(rest.swept).toBe(true);
    expect(names(rest.changes)).toEqual(['nda.pdf']);
    expect(upserts(rest.changes).map((i) => i.sourceId)).not.toContain(deal);
    expect(walking(rest.cursor).logs.map((l) => l.driveId)).not.toContain(sales);
  });

  it('a drive left after the crawl (a changeType drive entry): enumerated again, so its documents are swept', async () => {
    const { sales } = salesDrive();
    const legal = emu.addSharedDrive('Legal');
    const nda = emu.addFile(legal, 'nda.pdf', 'nda', { mimeType: 'application/pdf' });
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { all_shared_drives: true });
    const first = await crawl(provider, ctx);
    const caughtUp = await syncOnce(provider, ctx, first.cursor);
    emu.removeMember(sales, DEFAULT_USER);
    const next = await syncOnce(provider, ctx, caughtUp.cursor);
    expect(next.restarted).toBe(true);
    expect(next.swept).toBe(true);
    expect(upserts(next.changes).map((i) => i.sourceId)).toEqual([nda]);
  });
});
