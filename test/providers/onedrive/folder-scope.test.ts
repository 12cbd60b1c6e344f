import { describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { deletes, oneDriveContext, providerFor, queuedFolders, upsertNames, upserts, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));

/**
 * /Projects/in-a.txt, /Projects/Sub/in-b.txt (the scope)
 * /Archive/out-c.txt, /Archive/Old/out-d.txt, /top.txt (outside it)
 */
function seedTree() {
  const projects = emulator.addFolder('/', 'Projects');
  const sub = emulator.addFolder('/Projects', 'Sub');
  const archive = emulator.addFolder('/', 'Archive');
  const old = emulator.addFolder('/Archive', 'Old');
  const files = {
    a: emulator.addFile('/Projects', 'in-a.txt', 'a'),
    b: emulator.addFile('/Projects/Sub', 'in-b.txt', 'b'),
    c: emulator.addFile('/Archive', 'out-c.txt', 'c'),
    d: emulator.addFile('/Archive/Old', 'out-d.txt', 'd'),
    top: emulator.addFile('/', 'top.txt', 'top') };
  return { projects, sub, archive, old, files };
}

describe('OneDrive folder scope', () => {
  it('runs delta at the drive root and reports only the subtree of folder_path', async () => {
    const { projects } = seedTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects/' });

    const { changes, cursor } = await walk(provider, ctx, null);

    expect(upsertNames(changes)).toEqual(['in-a.txt', 'in-b.txt']);
    expect(deletes(changes)).toEqual([]); // out-of-scope files of a full enumeration are simply not reported
    expect(cursor.scopeRootId).toBe(projects.id);
    expect(emulator.requestCount(/\/root\/delta$/)).toBe(1);
    expect(emulator.requestCount(/\/items\/[^/]+\/delta$|:\/delta$/)).toBe(0); // never folder-scoped delta (Business refuses it)
    expect(ctx.folderMap.get(projects.id)?.inScope).toBe(true);
  });

  it('scopes by folder_id the same way', async () => {
    const { sub } = seedTree();
    const provider = providerFor(emulator);
    const { changes } = await walk(provider, oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_id: sub.id }), null);
    expect(upsertNames(changes)).toEqual(['in-b.txt']);
  });

  it('ignores changes outside the scope except as deletes, and reports those inside', async () => {
    const { files } = seedTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: 'Projects' });
    const { cursor } = await walk(provider, ctx, null);

    emulator.updateFile(files.c.id, 'c2');
    emulator.updateFile(files.b.id, 'b2');
    const { changes } = await walk(provider, ctx, cursor);

    expect(upsertNames(changes)).toEqual(['in-b.txt']);
    expect(deletes(changes)).toEqual([files.c.id]); // it might have just moved out; a delete of an unknown doc is a no-op
  });

  it('reports a file moved out of the scope as deleted, and one moved in as new, with the same signature', async () => {
    const { files } = seedTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const first = await walk(provider, ctx, null);
    const signatureOfA = upserts(first.changes).find((i) => i.sourceId === files.a.id)?.signature;

    emulator.move(files.a.id, '/Archive');
    emulator.move(files.c.id, '/Projects/Sub');
    const second = await walk(provider, ctx, first.cursor);
    const { changes } = second;

    expect(deletes(changes)).toEqual([files.a.id]);
    expect(upserts(changes).map((i) => i.sourceId)).toEqual([files.c.id]);

    emulator.move(files.a.id, '/Projects');
    const back = await walk(provider, ctx, second.cursor);
    expect(upserts(back.changes).find((i) => i.sourceId === files.a.id)?.signature).toBe(signatureOfA);
  });

  it('lists the whole subtree of a folder moved into the scope (delta does not re-emit its children)', async () => {
    const { archive, files } = seedTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const { cursor } = await walk(provider, ctx, null);

    emulator.move(archive.id, '/Projects');
    const { changes, pages, cursor: next } = await walk(provider, ctx, cursor);

    expect(upsertNames(changes)).toEqual(['out-c.txt', 'out-d.txt']);
    expect(deletes(changes)).toEqual([]);
    expect(pages.length).toBeGreaterThan(1); // the subtree comes as pages of its own, after the delta page
    expect(emulator.requestCount(new RegExp(`/items/${archive.id}/children$`))).toBe(1);

    // Later changes deep inside the moved folder are in scope now.
    emulator.updateFile(files.d.id, 'd2');
    const later = await walk(provider, ctx, next);
    expect(upsertNames(later.changes)).toEqual(['out-d.txt']);
  });

  it('spreads a large moved-in subtree over pages, following /children paging through the cursor', async () => {
    seedTree();
    const big = emulator.addFolder('/Archive', 'Big');
    for (let i = 0; i < 205; i++) emulator.addFile(big.id, `f${String(i).padStart(3, '0')}.txt`, String(i));
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const { cursor } = await walk(provider, ctx, null);

    emulator.move('/Archive', '/Projects');
    const { changes, pages, cursor: after } = await walk(provider, ctx, cursor);

    expect(upsertNames(changes)).toHaveLength(207); // out-c, out-d and the 205 of Big
    expect(new Set(upsertNames(changes)).size).toBe(207);
    expect(pages.some((p) => !Array.isArray(p.cursor.relist) && p.cursor.relist?.link !== undefined)).toBe(true);
    expect(after.relist).toBeUndefined();
    expect(pages.at(-1)?.hasMore).toBe(false);
  });

  it('deletes the files of a folder moved out of the scope, nested ones included', async () => {
    const { sub, files } = seedTree();
    const deeper = emulator.addFolder(sub.id, 'Deeper');
    const deep = emulator.addFile(deeper.id, 'deep.txt', 'deep');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const { cursor, changes: initial } = await walk(provider, ctx, null);
    expect(upsertNames(initial)).toEqual(['deep.txt', 'in-a.txt', 'in-b.txt']);

    emulator.move(sub.id, '/Archive');
    const { changes, cursor: next } = await walk(provider, ctx, cursor);

    expect(deletes(changes).sort()).toEqual([files.b.id, deep.id].sort());
    expect(upserts(changes)).toEqual([]);
    expect(ctx.folderMap.get(deeper.id)?.inScope).toBe(false);

    emulator.updateFile(deep.id, 'changed outside');
    const after = await walk(provider, ctx, next);
    expect(upserts(after.changes)).toEqual([]);
  });

  it('reports the files of a folder created inside the scope once, and keeps a renamed folder in scope', async () => {
    const { sub } = seedTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const { cursor } = await walk(provider, ctx, null);

    const fresh = emulator.addFolder(sub.id, 'Fresh');
    emulator.addFile(fresh.id, 'fresh.txt', 'new');
    emulator.rename(sub.id, 'Renamed');
    const { changes } = await walk(provider, ctx, cursor);

    expect(upsertNames(changes)).toEqual(['fresh.txt']);
    expect(deletes(changes)).toEqual([]);
    expect(ctx.folderMap.get(sub.id)?.inScope).toBe(true);
    expect(ctx.folderMap.get(fresh.id)).toEqual({ parentId: sub.id, inScope: true });
    expect(emulator.requestCount(/\/children$/)).toBe(0); // delta carries a new folder's children itself
  });

  it('makes the same decision when a page is listed again after a failure (moves are stored only once acted on)', async () => {
    const { archive } = seedTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const { cursor } = await walk(provider, ctx, null);
    emulator.move(archive.id, '/Projects');

    const firstTry = await provider.listChanges(ctx, cursor);
    const queuedFirst = queuedFolders(ctx, firstTry.cursor);
    const retry = await provider.listChanges(ctx, cursor); // the pipeline failed to apply the first answer

    expect(queuedFolders(ctx, retry.cursor)).toEqual(queuedFirst);
    expect(queuedFolders(ctx, retry.cursor)).toEqual([archive.id]);
  });

  it('moves the relist queue of a cursor saved by an earlier version (the tasks inside it) into the store, and lists on', async () => {
    const { projects, archive, old } = seedTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const { cursor } = await walk(provider, ctx, null);
    emulator.move(archive.id, '/Projects');
    const moved = await provider.listChanges(ctx, cursor);
    // As an earlier version saved it: the queue inside the cursor.
    const saved = provider.parseCursor(JSON.parse(JSON.stringify({ ...moved.cursor, relist: [{ folderId: archive.id, parentId: projects.id, inScope: true }] })));
    if (!saved) throw new Error('the provider refused a cursor with its queue inside');

    const { changes, pages, cursor: after } = await walk(provider, ctx, saved);

    expect(upsertNames(changes)).toEqual(['out-c.txt', 'out-d.txt']);
    expect(pages.every((p) => !Array.isArray(p.cursor.relist))).toBe(true);
    expect(ctx.folderMap.get(old.id)?.inScope).toBe(true);
    expect(after.relist).toBeUndefined();
  });

  it('drops a deleted folder from the tree and deletes its files', async () => {
    const { sub, files } = seedTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects' });
    const { cursor } = await walk(provider, ctx, null);

    emulator.delete(sub.id);
    const { changes } = await walk(provider, ctx, cursor);

    expect(deletes(changes)).toEqual([files.b.id]);
    expect(ctx.folderMap.has(sub.id)).toBe(false);
  });

  it('refuses a folder_path that does not exist or names a file', async () => {
    seedTree();
    const provider = providerFor(emulator);
    await expect(provider.listChanges(oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Nope' }), null)).rejects.toMatchObject({
      name: 'ScopeGoneError', // the sync's status then names the documents still indexed (activities add the count)
      scope: 'sync',
      message: expect.stringContaining('folder_path') });
    await expect(provider.listChanges(oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/top.txt' }), null)).rejects.toThrow(
      /folder_path.*names a file/,
    );
  });

  it('treats folder_path "/" as the whole drive', async () => {
    seedTree();
    const provider = providerFor(emulator);
    const { changes, cursor } = await walk(provider, oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/' }), null);
    expect(upsertNames(changes)).toHaveLength(5);
    expect(cursor.scopeRootId).toBeNull();
  });
});
