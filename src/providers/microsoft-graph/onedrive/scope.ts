import type { FolderTree, SourceChange } from '../../types.js';
import type { RelistTask } from './cursor.js';
import { type DriveItem, isContainer, lastOccurrences } from './api.js';
import { FolderView } from './folder-view.js';
import { fileChange } from './mapping.js';

/**
 * Turns one delta page into changes. Delta always runs at the drive root
 * (folder-scoped delta works on personal OneDrive only), so a folder scope is
 * applied here, by ancestry: every folder's parent is kept in the folder tree
 * with whether it lies inside the scope.
 *
 * A folder that crosses the scope boundary (moved in or out) is not followed by its children in delta: it is returned in `relist` and its
 * subtree listed on the next calls (relist.ts). Its own tree entry is only
 * stored then, so that a retried page makes the same decision again.
 */

export interface DeltaPageView {
  driveId: string;
  /** Null: the whole drive is in scope. */
  scopeRootId: string | null;
  /** The page belongs to a full enumeration: what is out of scope is simply not reported. */
  enumerating: boolean;
}

export interface ScopedChanges {
  changes: SourceChange[];
  relist: RelistTask[];
}

function wholeDriveChanges(items: DriveItem[], driveId: string): SourceChange[] {
  return items.flatMap((item): SourceChange[] => {
    if (isContainer(item)) return [];
    // Tombstones may lack the file facet: a delete of something we never stored is a no-op downstream.
    if (item.deleted) return [{ kind: 'delete', sourceId: item.id }];
    return [fileChange(item, driveId)];
  });
}

export async function changesForDeltaPage(tree: FolderTree, items: readonly DriveItem[], view: DeltaPageView): Promise<ScopedChanges> {
  const page = lastOccurrences(items);
  if (view.scopeRootId === null) return { changes: wholeDriveChanges(page, view.driveId), relist: [] };
  const scopeRootId = view.scopeRootId;

  const folders = new FolderView(tree);
  const changes: SourceChange[] = [];
  const relist: RelistTask[] = [];

  for (const item of page.filter((i) => i.deleted)) {
    if (await folders.get(item.id)) folders.remove(item.id);
    else if (!isContainer(item)) changes.push({ kind: 'delete', sourceId: item.id });
  }

  // Parents before children, so a folder's scope is known before its subfolders ask.
  const pageFolders = new Map(page.filter((i) => !i.deleted && isContainer(i)).map((i) => [i.id, i]));
  const placed = new Set<string>();
  const place = async (folder: DriveItem): Promise<void> => {
    if (placed.has(folder.id)) return;
    placed.add(folder.id);
    const parentId = folder.parentReference?.id ?? null;
    const parentInPage = parentId === null ? undefined : pageFolders.get(parentId);
    if (parentInPage) await place(parentInPage);
    const inScope = folder.id === scopeRootId || (parentId !== null && (await folders.get(parentId))?.inScope === true);
    const before = await folders.get(folder.id);
    // Only a folder we knew can cross: a new one (created or copied) arrives with its children in delta.
    const crossed = !view.enumerating && before !== null && before.inScope !== inScope;
    folders.set(folder.id, { parentId, inScope }, { persist: !crossed });
    if (crossed) relist.push({ folderId: folder.id, parentId, inScope });
  };
  for (const folder of pageFolders.values()) await place(folder);

  for (const item of page.filter((i) => !i.deleted && !isContainer(i))) {
    const parentId = item.parentReference?.id;
    const inScope = parentId !== undefined && (await folders.get(parentId))?.inScope === true;
    if (inScope) changes.push(fileChange(item, view.driveId));
    // Outside the scope now; it may have been inside before (moved out). Outside a full enumeration only: there, nothing was stored yet.
    else if (!view.enumerating) changes.push({ kind: 'delete', sourceId: item.id });
  }

  await folders.save();
  return { changes, relist };
}
