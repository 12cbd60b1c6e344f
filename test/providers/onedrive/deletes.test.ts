import { describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { deletes, oneDriveContext, providerFor, queuedFolders, upsertNames, upserts, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));

/**
 * Deletes that cannot be missed. The emulator sends a deleted folder's tombstone alone
 * (no tombstone per descendant), restores a folder without re-sending its children, and
 * may list children before their parents, as Graph is allowed to.
 */

/** /Team/plan.txt, /Team/Drafts/draft.txt, /Team/Drafts/Old/old.txt, /keep.txt */
function seedTeamTree() {
  const team = emulator.addFolder('/', 'Team');
  const drafts = emulator.addFolder('/Team', 'Drafts');
  emulator.addFolder('/Team/Drafts', 'Old');
  const files = {
    plan: emulator.addFile('/Team', 'plan.txt', 'plan'),
    draft: emulator.addFile('/Team/Drafts', 'draft.txt', 'draft'),
    old: emulator.addFile('/Team/Drafts/Old', 'old.txt', 'old'),
    keep: emulator.addFile('/', 'keep.txt', 'keep'),
  };
  return { team, drafts, files };
}

describe('OneDrive deletes', () => {
  it.each([
    ['the whole drive', {}],
    ['a folder scope', { folder_path: '/' }],
  ])('deletes every stored file below a deleted folder in %s, though delta sends only the folder', async (_, scope) => {
    const { team, files } = seedTeamTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, ...scope });
    const { cursor } = await walk(provider, ctx, null);

    emulator.delete(team.id);
    const { changes } = await walk(provider, ctx, cursor);

    expect(deletes(changes)).toEqual(expect.arrayContaining([files.plan.id, files.draft.id, files.old.id]));
    expect(deletes(changes)).not.toContain(files.keep.id);
    expect(upserts(changes)).toEqual([]);
  });

  it('deletes the files of a deleted subfolder of a folder scope, nested ones included, and drops its tree entries', async () => {
    const { drafts, files } = seedTeamTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Team' });
    const { cursor } = await walk(provider, ctx, null);

    emulator.delete(drafts.id);
    const { changes } = await walk(provider, ctx, cursor);

    expect(deletes(changes)).toEqual(expect.arrayContaining([files.draft.id, files.old.id]));
    expect(deletes(changes)).not.toContain(files.plan.id);
    expect(ctx.folderMap.has(drafts.id)).toBe(false);
  });

  it.each([
    ['the whole drive', {}],
    ['a folder scope', { folder_path: '/Team' }],
  ])('lists a folder restored from the recycle bin again, in %s, so its files come back', async (_, scope) => {
    const { drafts } = seedTeamTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, ...scope });
    const first = await walk(provider, ctx, null);
    emulator.delete(drafts.id);
    const second = await walk(provider, ctx, first.cursor);
    expect(deletes(second.changes)).toHaveLength(2);

    emulator.restore(drafts.id);
    const third = await walk(provider, ctx, second.cursor);

    expect(upsertNames(third.changes)).toEqual(['draft.txt', 'old.txt']);
    expect(deletes(third.changes)).toEqual([]);
  });

  it('answers the same when a page is listed again after a failure: the same deletes, the same restored folder', async () => {
    const { drafts, files } = seedTeamTree();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const { cursor } = await walk(provider, ctx, null);

    emulator.delete(drafts.id);
    const firstTry = await provider.listChanges(ctx, cursor);
    const retry = await provider.listChanges(ctx, cursor); // the pipeline failed before saving the first answer
    expect(deletes(retry.changes).sort()).toEqual(deletes(firstTry.changes).sort());
    expect(deletes(retry.changes)).toEqual(expect.arrayContaining([files.draft.id, files.old.id]));

    emulator.restore(drafts.id);
    const restoredOnce = await provider.listChanges(ctx, retry.cursor);
    const queuedOnce = queuedFolders(ctx, restoredOnce.cursor);
    const restoredAgain = await provider.listChanges(ctx, retry.cursor);
    expect(queuedFolders(ctx, restoredAgain.cursor)).toEqual([drafts.id]);
    expect(queuedFolders(ctx, restoredAgain.cursor)).toEqual(queuedOnce);
  });

  it('places a file whose folder comes on a later page by asking Graph, instead of calling it deleted', async () => {
    emulator.store.collapseDelta = true;
    emulator.addFolder('/', 'Projects');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Projects', page_size: 1 });
    const { cursor } = await walk(provider, ctx, null);

    // Delta lists the new file first and its new folder after it (one item per page here).
    const sub = emulator.addFolder('/Projects', 'Sub');
    const file = emulator.addFile(sub.id, 'late-parent.txt', 'x');
    const { changes } = await walk(provider, ctx, cursor);

    expect(upserts(changes).map((i) => i.sourceId)).toEqual([file.id]);
    expect(deletes(changes)).toEqual([]);
    expect(emulator.requestCount(new RegExp(`/items/${sub.id}$`))).toBe(1); // one look-up, then the tree knows it
    expect(ctx.folderMap.get(sub.id)?.inScope).toBe(true);
  });

  it('enumerates a folder scope completely when every child comes before its parent', async () => {
    emulator.store.childrenFirst = true;
    seedTeamTree();
    emulator.addFolder('/', 'Elsewhere');
    emulator.addFile('/Elsewhere', 'outside.txt', 'o');
    const provider = providerFor(emulator);

    const { changes } = await walk(provider, oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Team', page_size: 2 }), null);

    expect(upsertNames(changes)).toEqual(['draft.txt', 'old.txt', 'plan.txt']);
    expect(deletes(changes)).toEqual([]);
  });
});
