import type { SourceChange } from '../types.js';
import type { FolderTask } from './cursor.js';
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

export async function walkOnePage(session: DriveSession, state: WalkState): Promise<{ changes: SourceChange[]; state: WalkState }> {
  const pending = [...state.pending];
  const task = state.current ?? pending.pop();
  if (!task) return { changes: [], state: { pending, current: null } };

  const listing = await session.client.listChildren(task, task.pageToken);
  const upsert = task.mode === 'upsert';
  const subfolders: FolderTask[] = [];
  const rows: Array<{ folderId: string; parentId: string; inScope: boolean }> = [];
  // Folders first: a shortcut later in this page to a sibling folder must find it already in scope.
  for (const folder of listing.files.filter(isFolder)) {
    if (upsert && (await session.folders.get(folder.id))?.inScope) continue; // reached through a shortcut already
    rows.push({ folderId: folder.id, parentId: task.folderId, inScope: upsert });
    subfolders.push({ folderId: folder.id, ...(folder.driveId ? { driveId: folder.driveId } : {}), mode: task.mode });
  }
  await session.folders.put(rows);

  const changes: SourceChange[] = [];
  for (const file of listing.files) {
    if (isFolder(file)) continue;
    if (isShortcut(file)) {
      changes.push(...(upsert ? await followShortcut(session, file, task.folderId, subfolders) : await dropShortcut(session, file.id, subfolders)));
    } else {
      changes.push(upsert ? mapDriveFile(file, session.config.exportFormats) : { kind: 'delete', sourceId: file.id });
    }
  }

  const current = listing.nextPageToken ? { ...task, pageToken: listing.nextPageToken } : null;
  return { changes, state: { pending: [...pending, ...subfolders.reverse()], current } };
}
