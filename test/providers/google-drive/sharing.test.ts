import { describe, expect, it } from 'vitest';
import { parseDriveConfig } from '../../../src/providers/google-drive/config.js';
import { DEFAULT_USER, type DriveEmulator } from '../../emulators/drive/index.js';
import { deletes, driveContext, names, providerFor, readAll, skips, syncOnce, upserts, useDriveEmulator, walking } from './harness.js';

/**
 * Sharing as Drive has it: folders of a shared drive shared with people who are
 * not members of it, shortcuts across corpora whose changes are logged only in
 * their own corpus, and items shared by link that need their resource key.
 */

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

const MANAGER = 'manager@example.com';

/** A shared drive the connector's identity is NOT a member of, with one folder of it shared with the identity. */
function nonMemberFolder() {
  const legal = emu.addSharedDrive('Legal', [MANAGER]);
  const contracts = emu.addFolder(legal, 'Contracts');
  const signed = emu.addFolder(contracts, 'Signed');
  const nda = emu.addFile(contracts, 'nda.pdf', 'nda', { mimeType: 'application/pdf' });
  const lease = emu.addFile(signed, 'lease.pdf', 'lease', { mimeType: 'application/pdf' });
  emu.addFile(legal, 'board.pdf', 'not shared', { mimeType: 'application/pdf' });
  emu.share(contracts, DEFAULT_USER);
  return { legal, contracts, signed, nda, lease };
}

/** Answers 404 the source got, apart from drives.get (which is how it learns it is not a member). */
const unexpected404s = () => emu.requests.filter((r) => r.status === 404 && !r.path.startsWith('/drive/v3/drives/'));

describe('a shared-drive folder shared with a non-member', () => {
  it('syncs through the user log and corpora=allDrives listings, never the drive-scoped calls that answer 404', async () => {
    const { legal, contracts, signed, lease } = nonMemberFolder();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { folder_id: contracts });

    const first = await syncOnce(provider, ctx, null);
    expect(first.restarted).toBe(false);
    expect(names(first.changes)).toEqual(['lease.pdf', 'nda.pdf']);
    expect(walking(first.cursor).logs).toEqual([expect.objectContaining({ root: contracts })]);
    expect(walking(first.cursor).logs[0]?.driveId).toBeUndefined();
    expect(emu.requestsTo('/drive/v3/files', { corpora: 'drive' })).toEqual([]);
    expect(emu.requestsTo('/drive/v3/changes/startPageToken', { driveId: legal })).toEqual([]);
    expect(unexpected404s()).toEqual([]);
    const content = await provider.openContent(ctx, upserts(first.changes).find((i) => i.sourceId === lease) ?? upserts(first.changes)[0]!);
    expect((await readAll(content.body)).toString()).toBe('lease');

    // Later edits of the shared items arrive in the identity's own log.
    const added = emu.addFile(signed, 'addendum.pdf', 'addendum', { mimeType: 'application/pdf' });
    emu.update(lease, { content: 'lease v2' });
    const next = await syncOnce(provider, ctx, first.cursor);
    expect(next.restarted).toBe(false);
    expect(upserts(next.changes).map((i) => i.sourceId).sort()).toEqual([added, lease].sort());
    expect(unexpected404s()).toEqual([]);
  });

  it('syncs the subtree of a shortcut to such a folder from My Drive', async () => {
    const { contracts } = nonMemberFolder();
    emu.addShortcut(emu.myDrive(), 'Contracts (shortcut)', contracts);
    const first = await syncOnce(providerFor(emu), driveContext(emu), null);
    expect(names(first.changes)).toEqual(['lease.pdf', 'nda.pdf']);
    expect(emu.requestsTo('/drive/v3/files', { corpora: 'drive' })).toEqual([]);
    expect(unexpected404s()).toEqual([]);
  });
});

describe('shortcut targets in a corpus whose change log the connector does not read', () => {
  it('a My Drive shortcut to a file in a member shared drive: its edit and its deletion arrive on the next syncs', async () => {
    const sales = emu.addSharedDrive('Sales');
    const deck = emu.addFile(sales, 'deck.pdf', 'deck v1', { mimeType: 'application/pdf' });
    emu.addShortcut(emu.myDrive(), 'deck (shortcut)', deck);
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const first = await syncOnce(provider, ctx, null);
    const before = upserts(first.changes).find((i) => i.sourceId === deck);
    expect(before?.name).toBe('deck.pdf');

    // The edit is logged in Sales' own log only (about-changes), which a My Drive connector does not read.
    emu.update(deck, { content: 'deck v2, longer' });
    const edited = await syncOnce(provider, ctx, first.cursor);
    const after = upserts(edited.changes).find((i) => i.sourceId === deck);
    expect(after?.signature).not.toBe(before?.signature);
    expect(emu.requestsTo(`/drive/v3/files/${deck}`).length).toBeGreaterThan(0);
    expect(emu.requestsTo('/drive/v3/changes').every((r) => /changeType/.test(r.query.fields ?? '') && /driveId/.test(r.query.fields ?? ''))).toBe(true);

    emu.trash(deck);
    const trashed = await syncOnce(provider, ctx, edited.cursor);
    expect(deletes(trashed.changes)).toContain(deck);
    // Forgotten once deleted: the next pass asks nothing more about it.
    const mark = emu.requests.length;
    await syncOnce(provider, ctx, trashed.cursor);
    expect(emu.requests.slice(mark).filter((r) => r.path === `/drive/v3/files/${deck}`)).toEqual([]);
  });
});

describe('items shared by link (resource keys)', () => {
  it('indexes a shortcut target shared by link, sending its resource key to read and download it', async () => {
    const colleagueRoot = emu.addUser('colleague@example.com');
    const memo = emu.addFile(colleagueRoot, 'memo.pdf', 'memo by link', { mimeType: 'application/pdf' });
    const key = emu.shareByLink(memo);
    emu.addShortcut(emu.myDrive(), 'memo (shortcut)', memo);
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const first = await syncOnce(provider, ctx, null);
    expect(skips(first.changes)).toEqual([]);
    const item = upserts(first.changes).find((i) => i.sourceId === memo);
    expect(item?.fetch).toEqual({ fileId: memo, resourceKey: key });
    const content = await provider.openContent(ctx, item!);
    expect((await readAll(content.body)).toString()).toBe('memo by link');
    expect(emu.counters.downloads.get(memo)).toBe(1);
  });

  it('keeps the resourcekey of a pasted folder URL and syncs that folder', async () => {
    const colleagueRoot = emu.addUser('colleague@example.com');
    const shared = emu.addFolder(colleagueRoot, 'Handbook');
    const page = emu.addFile(shared, 'page.txt', 'handbook page', { mimeType: 'text/plain' });
    const key = emu.shareByLink(shared);
    const url = `https://drive.google.com/drive/folders/${shared}?resourcekey=${key}&usp=sharing`;
    expect(parseDriveConfig({ folder_id: url }).scope).toEqual({ kind: 'folder', folderId: shared, resourceKey: key });

    const provider = providerFor(emu);
    const ctx = driveContext(emu, { folder_id: url });
    const first = await syncOnce(provider, ctx, null);
    expect(names(first.changes)).toEqual(['page.txt']);
    const content = await provider.openContent(ctx, upserts(first.changes)[0]!);
    expect((await readAll(content.body)).toString()).toBe('handbook page');
    expect(emu.counters.downloads.get(page)).toBe(1);
  });
});
