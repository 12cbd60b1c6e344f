import { describe, expect, it } from 'vitest';
import { CursorExpiredError, PermanentSourceError } from '../../../src/errors.js';
import type { DriveCursor } from '../../../src/providers/google-drive/cursor.js';
import type { ChangePage, SourceChange } from '../../../src/providers/types.js';
import { fault, type DriveEmulator } from '../../emulators/drive/index.js';
import { deletes, drain, driveContext, names, providerFor, syncOnce, upserts, useDriveEmulator, walking } from './harness.js';

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

/** A folder-scoped connector on "Team" after its first sync, with folders inside and outside. */
async function syncedTeamFolder() {
  const root = emu.myDrive();
  const team = emu.addFolder(root, 'Team');
  const docs = emu.addFolder(team, 'Docs');
  const keep = emu.addFile(docs, 'keep.txt', 'keep', { mimeType: 'text/plain' });
  const report = emu.addFile(team, 'report.pdf', 'v1', { mimeType: 'application/pdf' });
  const archive = emu.addFolder(root, 'Archive');
  const old = emu.addFolder(archive, 'Old');
  const oldFile = emu.addFile(old, 'old.txt', 'old', { mimeType: 'text/plain' });
  const archived = emu.addFile(archive, 'archived.txt', 'archived', { mimeType: 'text/plain' });
  const provider = providerFor(emu);
  const ctx = driveContext(emu, { folder_id: team });
  const first = await drain(provider, ctx, null);
  expect(names(first.changes)).toEqual(['keep.txt', 'report.pdf']);
  return { provider, ctx, cursor: first.cursor, root, team, docs, keep, report, archive, old, oldFile, archived };
}

const lastFor = (changes: SourceChange[], id: string): SourceChange | undefined =>
  changes.filter((c) => (c.kind === 'upsert' ? c.item.sourceId : c.sourceId) === id).at(-1);

describe('the change phase', () => {
  it('reports nothing when nothing changed, and says it is caught up', async () => {
    const { provider, ctx, cursor } = await syncedTeamFolder();
    const next = await drain(provider, ctx, cursor);
    expect(next.changes).toEqual([]);
    expect(next.pages.at(-1)).toMatchObject({ hasMore: false, fullEnumeration: false });
  });

  it('reports an edit with a new signature and a rename with the same one', async () => {
    const { provider, ctx, cursor, report, keep } = await syncedTeamFolder();
    const before = await drain(provider, driveContext(emu, { folder_id: ctx.config.folder_id }), null);
    const oldSignature = upserts(before.changes).find((i) => i.sourceId === report)?.signature;
    emu.update(report, { content: 'v2' });
    emu.rename(keep, 'kept.txt');
    const next = await drain(provider, ctx, cursor);
    const edited = upserts(next.changes).find((i) => i.sourceId === report);
    const renamed = upserts(next.changes).find((i) => i.sourceId === keep);
    expect(edited?.signature).not.toBe(oldSignature);
    expect(renamed?.name).toBe('kept.txt');
    expect(renamed?.signature).toBe(upserts(before.changes).find((i) => i.sourceId === keep)?.signature);
  });

  it('deletes trashed files, files in a trashed folder, and removed files', async () => {
    const { provider, ctx, cursor, report, docs, keep } = await syncedTeamFolder();
    emu.trash(report);
    emu.trash(docs);
    const next = await drain(provider, ctx, cursor);
    expect(deletes(next.changes).sort()).toEqual([keep, report].sort());
    expect(upserts(next.changes)).toEqual([]);
    expect(ctx.folderMap.get(docs)?.inScope).toBe(false);

    const added = emu.addFile(ctx.config.folder_id as string, 'temp.txt', 't', { mimeType: 'text/plain' });
    const created = await drain(provider, ctx, next.cursor);
    expect(names(created.changes)).toEqual(['temp.txt']);
    emu.remove(added);
    const removed = await drain(provider, ctx, created.cursor);
    expect(deletes(removed.changes)).toEqual([added]);
  });

  it('deletes every file below a trashed folder though only the folder gets a change (bulk trash), listing its trashed children', async () => {
    const { provider, ctx, cursor, docs, keep } = await syncedTeamFolder();
    const nested = emu.addFolder(docs, 'Nested');
    const deep = emu.addFile(nested, 'deep.txt', 'deep', { mimeType: 'text/plain' });
    const added = await drain(provider, ctx, cursor);
    expect([...new Set(names(added.changes))]).toEqual(['deep.txt']); // a new folder is walked too: its file may come twice
    const logMark = emu.store.log.length;
    emu.trash(docs);
    expect(emu.store.log.slice(logMark).map((e) => e.fileId)).toEqual([docs]); // no change for keep.txt or deep.txt
    const next = await drain(provider, ctx, added.cursor);
    expect(deletes(next.changes).sort()).toEqual([deep, keep].sort());
    const walk = emu.requestsTo('/drive/v3/files', { q: `'${docs}' in parents` });
    expect(walk).toHaveLength(1);
  });

  it('a folder deleted for good (only its own removal logged): its files are deleted by a new enumeration', async () => {
    const { provider, ctx, cursor, docs, keep, report } = await syncedTeamFolder();
    emu.remove(docs);
    const next = await syncOnce(provider, ctx, cursor);
    // The delete walk cannot list a deleted folder: the scope is enumerated again, and its sweep removes keep.txt.
    expect(next.restarted).toBe(true);
    expect(next.swept).toBe(true);
    expect(upserts(next.changes).map((i) => i.sourceId)).toEqual([report]);
    expect(upserts(next.changes).map((i) => i.sourceId)).not.toContain(keep);
  });

  it('the same when the deleted folder lists as empty instead of 404', async () => {
    const { provider, ctx, cursor, docs, keep } = await syncedTeamFolder();
    emu.remove(docs);
    emu.fail({ path: '/drive/v3/files', query: { q: `'${docs}' in parents` }, reply: { status: 200, body: { files: [] } } });
    const next = await syncOnce(provider, ctx, cursor);
    expect(next.restarted).toBe(true);
    expect(next.swept).toBe(true);
    expect(upserts(next.changes).map((i) => i.sourceId)).not.toContain(keep);
  });

  it('deletes a file moved out of scope and reports a file moved in', async () => {
    const { provider, ctx, cursor, team, report, archive, archived } = await syncedTeamFolder();
    emu.move(report, archive);
    emu.move(archived, team);
    const next = await drain(provider, ctx, cursor);
    expect(lastFor(next.changes, report)).toEqual({ kind: 'delete', sourceId: report });
    expect(lastFor(next.changes, archived)).toMatchObject({ kind: 'upsert', item: { name: 'archived.txt' } });
  });

  it('ignores changes outside the scope, remembering the folders it looked up', async () => {
    const { provider, ctx, cursor, archive, archived } = await syncedTeamFolder();
    emu.update(archived, { content: 'new' });
    const next = await drain(provider, ctx, cursor);
    // Deleting an unknown document is a no-op: a change outside scope may only ever be a delete.
    expect(upserts(next.changes)).toEqual([]);
    expect(ctx.folderMap.get(archive)).toMatchObject({ inScope: false });
    const lookups = emu.requestsTo(`/drive/v3/files/${archive}`).length;
    emu.update(archived, { content: 'newer' });
    await drain(provider, ctx, next.cursor);
    expect(emu.requestsTo(`/drive/v3/files/${archive}`).length).toBe(lookups);
  });

  it('crawls a folder moved into scope, since Drive does not re-emit its children', async () => {
    const { provider, ctx, cursor, team, archive, old, oldFile } = await syncedTeamFolder();
    emu.move(archive, team);
    const next = await drain(provider, ctx, cursor);
    expect(names(next.changes)).toEqual(['archived.txt', 'old.txt']);
    expect(lastFor(next.changes, oldFile)?.kind).toBe('upsert');
    expect(ctx.folderMap.get(archive)).toEqual({ parentId: team, inScope: true });
    expect(ctx.folderMap.get(old)).toEqual({ parentId: archive, inScope: true });
    expect(next.pages.every((p) => !p.fullEnumeration)).toBe(true);

    // Now inside: its files' later edits are in scope.
    emu.update(oldFile, { content: 'edited' });
    const later = await drain(provider, ctx, next.cursor);
    expect(names(later.changes)).toEqual(['old.txt']);
  });

  it('deletes everything below a folder moved out of scope', async () => {
    const { provider, ctx, cursor, docs, keep, root } = await syncedTeamFolder();
    const deeper = emu.addFolder(docs, 'Deeper');
    const deepFile = emu.addFile(deeper, 'deep.txt', 'd', { mimeType: 'text/plain' });
    const synced = await drain(provider, ctx, cursor);
    // Once from its own change, once from walking the folder new to the tree (same signature: not fetched twice).
    expect(new Set(names(synced.changes))).toEqual(new Set(['deep.txt']));
    emu.move(docs, root);
    const next = await drain(provider, ctx, synced.cursor);
    expect(deletes(next.changes).sort()).toEqual([deepFile, keep].sort());
    expect(ctx.folderMap.get(docs)?.inScope).toBe(false);
    expect(ctx.folderMap.get(deeper)?.inScope).toBe(false);
    // And once out, their edits stay out.
    emu.update(keep, { content: 'edited outside' });
    const later = await drain(provider, ctx, next.cursor);
    expect(upserts(later.changes)).toEqual([]);
  });

  it('scopes a file whose new parent folder it has never seen by looking the folder up', async () => {
    const { provider, ctx, cursor, team } = await syncedTeamFolder();
    const fresh = emu.addFolder(team, 'Fresh');
    const inside = emu.addFile(fresh, 'inside.txt', 'i', { mimeType: 'text/plain' });
    emu.rename(fresh, 'Fresh (renamed)'); // the folder's change now comes after its child's
    const next = await drain(provider, ctx, cursor);
    expect(lastFor(next.changes, inside)?.kind).toBe('upsert');
    expect(ctx.folderMap.get(fresh)).toEqual({ parentId: team, inScope: true });
  });

  it('follows nextPageToken across pages and saves newStartPageToken at the end', async () => {
    const { provider, ctx, cursor, team } = await syncedTeamFolder();
    emu.maxPageSize = 2;
    for (let i = 0; i < 5; i++) emu.addFile(team, `n${i}.txt`, `n${i}`, { mimeType: 'text/plain' });
    const next = await drain(provider, ctx, cursor);
    expect(names(next.changes)).toEqual(['n0.txt', 'n1.txt', 'n2.txt', 'n3.txt', 'n4.txt']);
    expect(next.pages.length).toBeGreaterThanOrEqual(3);
    expect(next.pages.slice(0, -1).every((p) => p.hasMore)).toBe(true);
    expect(next.cursor).toMatchObject({ phase: 'changes', next: 1 });
    expect(walking(next.cursor).logs[0]?.token).toBe(String(emu.store.nextSeq));
  });

  it('throws CursorExpiredError when Drive no longer accepts the saved page token', async () => {
    const { provider, ctx, cursor } = await syncedTeamFolder();
    emu.expireChangeTokens();
    const error = await drain(provider, ctx, cursor).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CursorExpiredError);
    expect((error as Error).message).toMatch(/rejected the saved changes page token/);
  });

  it('throws CursorExpiredError on an injected 400 invalid page token too', async () => {
    const { provider, ctx, cursor } = await syncedTeamFolder();
    emu.fail({ path: '/drive/v3/changes', reply: fault.invalidPageToken() });
    await expect(provider.listChanges(ctx, cursor)).rejects.toBeInstanceOf(CursorExpiredError);
  });

  it('stops, rather than crawling in a loop, when Drive refuses the start token of the enumeration just made; the next sync reads from that token', async () => {
    const { provider, ctx, cursor, team } = await syncedTeamFolder();
    emu.fail({ path: '/drive/v3/changes', reply: fault.invalidPageToken(), times: Infinity });
    await expect(provider.listChanges(ctx, cursor)).rejects.toBeInstanceOf(CursorExpiredError); // an old token: enumerate again, once

    await ctx.folders.clear();
    const pages: Array<ChangePage<DriveCursor>> = [];
    let at: DriveCursor | null = null;
    const stopped = await (async () => {
      for (let i = 0; i < 50; i++) {
        const page = await provider.listChanges(ctx, at);
        pages.push(page);
        at = page.cursor;
      }
      return new Error('no error after 50 pages');
    })().catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(PermanentSourceError);
    expect(stopped).toMatchObject({ code: 'startTokenRefused', scope: 'sync' });
    expect((stopped as Error).message).toMatch(/this sync stops here and the next one tries the same token again/);
    expect(pages.filter((p) => p.enumerationComplete)).toHaveLength(1);

    emu.clearFaults();
    emu.addFile(team, 'late.txt', 'late', { mimeType: 'text/plain' });
    const next = await syncOnce(provider, ctx, at);
    expect(next.restarted).toBe(false);
    expect(names(next.changes)).toEqual(['late.txt']);
  });

  it('starts over instead of deleting everything when the folder tree was wiped', async () => {
    const { provider, ctx, cursor } = await syncedTeamFolder();
    await ctx.folders.clear();
    await expect(provider.listChanges(ctx, cursor)).rejects.toThrow(/folder tree of this Google Drive connector is missing/);
  });

  it('keeps the whole My Drive in scope by default', async () => {
    const root = emu.myDrive();
    const a = emu.addFolder(root, 'A');
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const first = await drain(provider, ctx, null);
    emu.addFile(a, 'a.txt', 'a', { mimeType: 'text/plain' });
    const shared = emu.addSharedDrive('Elsewhere');
    emu.addFile(shared, 'shared.txt', 's', { mimeType: 'text/plain' });
    const next = await drain(provider, ctx, first.cursor);
    expect(names(next.changes)).toEqual(['a.txt']);
  });
});
