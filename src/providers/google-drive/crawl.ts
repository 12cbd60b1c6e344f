import { CursorExpiredError } from '../../errors.js';
import type { SourceChange } from '../types.js';
import type { FolderTask } from './cursor.js';
import { rootLost } from './lost-scope.js';
import { isFolder, isShortcut, mapDriveFile } from './mapping.js';
import type { DriveSession } from './session.js';
import { dropShortcut, followShortcut } from './shortcuts.js';

/**
 * One page of one folder's listing: the unit of the crawl, and of the subtree
 * walks the change phase starts when a folder moves into scope (report every
 * file) or out of it (report every file gone; changes do not re-emit children).
 * Depth-first: new subfolders go on top of the stack, which keeps the frontier
 * in the cursor small.
 */

export interface WalkState {
  pending: FolderTask[];
  current: FolderTask | null;
}

export const walkDone = (state: WalkState): boolean => state.current === null && state.pending.length === 0;

/**
 * A folder listing answered 404: the folder is gone (or no longer visible),
 * which fails nothing by itself. Its files were either never reported (a crawl:
 * the enumeration's sweep removes what was stored) or must now be deleted (a
 * delete walk), which only a new enumeration can do once the folder cannot be
 * listed. A root gone is the scope gone.
 */
function folderGone(session: DriveSession, task: FolderTask, roots: ReadonlySet<string>, scope: string): void {
  if (roots.has(task.folderId)) throw rootLost(session, scope, 'the folder or shared drive the connector syncs can no longer be listed');
  if (task.mode === 'delete') {
    throw new CursorExpiredError('a folder that left the scope can no longer be listed to delete its files; enumerating the scope again', 'folderGone');
  }
  session.logger.info({ folderId: task.folderId }, 'Google Drive: a folder vanished before it could be listed; skipping it');
}

/** A delete walk finding nothing may be looking at a folder deleted for good (should Drive answer an empty list rather than 404). */
async function emptyBecauseGone(session: DriveSession, task: FolderTask, listing: { files: unknown[] }): Promise<boolean> {
  if (task.mode !== 'delete' || task.pageToken || listing.files.length > 0) return false;
  return (await session.client.findFile(task.folderId, 'id', task.resourceKey)) === null;
}

export async function walkOnePage(
  session: DriveSession,
  state: WalkState,
  where: { roots: ReadonlySet<string>; scope: string },
): Promise<{ changes: SourceChange[]; state: WalkState }> {
  const pending = [...state.pending];
  const task = state.current ?? pending.pop();
  if (!task) return { changes: [], state: { pending, current: null } };

  const upsert = task.mode === 'upsert';
  const listing = await session.client.listChildren(task, task.pageToken, { withTrashed: !upsert });
  if (listing === null || (await emptyBecauseGone(session, task, listing))) {
    folderGone(session, task, where.roots, where.scope);
    return { changes: [], state: { pending, current: null } };
  }
  const subfolders: FolderTask[] = [];
  const rows: Array<{ folderId: string; parentId: string; inScope: boolean }> = [];
  // Folders first: a shortcut later in this page to a sibling folder must find it already in scope.
  for (const folder of listing.files.filter(isFolder)) {
    if (upsert && (await session.folders.get(folder.id))?.inScope) continue; // reached through a shortcut already
    rows.push({ folderId: folder.id, parentId: task.folderId, inScope: upsert });
    // A child lives in its parent's corpus: listed the same way (a non-member's folder never by corpora=drive).
    subfolders.push({
      folderId: folder.id,
      ...(task.driveId ? { driveId: task.driveId } : {}),
      ...(folder.resourceKey ? { resourceKey: folder.resourceKey } : {}),
      mode: task.mode,
    });
  }
  await session.folders.put(rows);

  const changes: SourceChange[] = [];
  for (const file of listing.files) {
    if (isFolder(file)) continue;
    if (isShortcut(file)) {
      changes.push(...(upsert && !file.trashed ? await followShortcut(session, file, task.folderId, subfolders) : await dropShortcut(session, file.id, subfolders)));
    } else {
      changes.push(upsert ? mapDriveFile(file, session.config.exportFormats) : { kind: 'delete', sourceId: file.id });
    }
  }

  const current = listing.nextPageToken ? { ...task, pageToken: listing.nextPageToken, ...(listing.corpora ? { corpora: listing.corpora } : {}) } : null;
  return { changes, state: { pending: [...pending, ...subfolders.reverse()], current } };
}
