import type { FolderTree, ItemParentRecord, ItemParents, RelistTaskRecord, SourceChange } from '../../types.js';
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
 *
 * Deletes that cannot be missed: every live item of the scope has its parent
 * recorded (ItemParents), so a folder's tombstone, which may come alone,
 * deletes every stored item below it; a folder that comes back after its
 * tombstone (restored from the recycle bin) is listed again. A parent that
 * neither the page nor the tree knows (it comes on a later page: Graph
 * guarantees no order) is looked up at Graph, up to a known folder.
 */

export interface DeltaPageView {
  driveId: string;
  /** Null: the whole drive is in scope. */
  scopeRootId: string | null;
  /** The page belongs to a full enumeration: what is out of scope is simply not reported. */
  enumerating: boolean;
  /**
   * A library synced for several folders (a team's channel folders): each of
   * these and its subtree is in scope, and a file outside them is another's,
   * never reported (one moved out of them stays until a full enumeration's sweep).
   */
  scopeRoots?: readonly string[];
}

/** The parents of this listing's items (ItemParents under the cursor's scope key). */
export interface ScopedItemParents {
  record(items: ItemParentRecord[]): Promise<string[]>;
  removeSubtrees(itemIds: string[]): ReturnType<ItemParents['removeSubtrees']>;
}

export interface PageLookups {
  folders: FolderTree;
  items: ScopedItemParents;
  /** An item's parent as Graph has it now; null when the item no longer exists. */
  parentOf(itemId: string): Promise<{ parentId: string | null; isRoot: boolean } | null>;
}

export interface ScopedChanges {
  changes: SourceChange[];
  relist: RelistTaskRecord[];
}

/** Deeper than any real folder chain: a walk up that goes on longer is a cycle. */
const MAX_WALK_UP = 64;

const parentOfItem = (item: DriveItem): string | null => item.parentReference?.id ?? null;

export async function changesForDeltaPage(lookups: PageLookups, items: readonly DriveItem[], view: DeltaPageView): Promise<ScopedChanges> {
  const page = lastOccurrences(items);
  const live = page.filter((i) => !i.deleted);
  const tombstones = page.filter((i) => i.deleted);
  const folders = view.scopeRootId === null && view.scopeRoots === undefined ? null : new FolderView(lookups.folders);
  const relist: RelistTaskRecord[] = [];

  // Which live items are in scope (all of them for a whole drive), and which folders crossed its boundary.
  const inScope = folders ? await placeInScope(folders, lookups, live, view, relist) : new Map(live.map((i) => [i.id, true]));
  const changes: SourceChange[] = [];
  for (const item of live) {
    if (isContainer(item)) continue;
    if (inScope.get(item.id) === true) changes.push(fileChange(item, view.driveId));
    // Outside the scope now; it may have been inside before (moved out). Outside a full enumeration only: there, nothing was stored yet.
    else if (!view.enumerating && view.scopeRoots === undefined) changes.push({ kind: 'delete', sourceId: item.id });
  }

  // Record where this page's items of the scope are; a folder recorded deleted and now back is listed again.
  const restored = await lookups.items.record(
    live.filter((i) => inScope.get(i.id) === true).map((i) => ({ itemId: i.id, parentId: parentOfItem(i), folder: isContainer(i) })),
  );
  const relisting = new Set(relist.map((t) => t.folderId));
  for (const item of live) {
    if (!restored.includes(item.id) || !isContainer(item) || relisting.has(item.id)) continue;
    relist.push({ folderId: item.id, parentId: parentOfItem(item), inScope: true });
    folders?.set(item.id, { parentId: parentOfItem(item), inScope: true }, { persist: false });
  }

  // Tombstones, and for a folder's, every stored item below it: the folder's may be the only one sent.
  // A tombstone may lack the folder facet: what was recorded as a folder is one.
  const removed = await lookups.items.removeSubtrees(tombstones.map((i) => i.id));
  for (const item of tombstones) {
    if (folders && (await folders.get(item.id))) folders.remove(item.id);
    else if (!isContainer(item) && !removed.folders.includes(item.id)) changes.push({ kind: 'delete', sourceId: item.id });
  }
  for (const { itemId, folder } of removed.below) {
    if (!folder) changes.push({ kind: 'delete', sourceId: itemId });
    else if (folders && (await folders.get(itemId))) folders.remove(itemId);
  }

  await folders?.save();
  return { changes, relist };
}

/** Folder scope: places the page's folders (parents first) and answers, per live item, whether it lies in the scope. */
async function placeInScope(
  folders: FolderView,
  lookups: PageLookups,
  live: readonly DriveItem[],
  view: DeltaPageView,
  relist: RelistTaskRecord[],
): Promise<Map<string, boolean>> {
  const roots = new Set([...(view.scopeRootId === null ? [] : [view.scopeRootId]), ...(view.scopeRoots ?? [])]);
  const pageFolders = new Map(live.filter(isContainer).map((i) => [i.id, i]));
  const placed = new Set<string>();

  /** Whether a folder lies in the scope: from the tree, this page, or Graph (walking up). */
  const folderInScope = async (folderId: string, depth: number): Promise<boolean> => {
    if (roots.has(folderId)) return true;
    const inPage = pageFolders.get(folderId);
    if (inPage && !placed.has(folderId)) await place(inPage, depth);
    const known = await folders.get(folderId);
    if (known) return known.inScope;
    if (depth >= MAX_WALK_UP) return false;
    const parent = await lookups.parentOf(folderId);
    // Gone since, or the drive root: outside the scope.
    if (parent === null) return false;
    const within = !parent.isRoot && parent.parentId !== null && (await folderInScope(parent.parentId, depth + 1));
    folders.set(folderId, { parentId: parent.parentId, inScope: within }, { persist: true });
    return within;
  };

  const place = async (folder: DriveItem, depth: number): Promise<void> => {
    if (placed.has(folder.id)) return;
    placed.add(folder.id);
    const parentId = parentOfItem(folder);
    const before = await folders.get(folder.id);
    const within = roots.has(folder.id) || (parentId !== null && (await folderInScope(parentId, depth + 1)));
    // Only a folder we knew can cross: a new one (created or copied) arrives with its children in delta.
    const crossed = !view.enumerating && before !== null && before.inScope !== within;
    folders.set(folder.id, { parentId, inScope: within }, { persist: !crossed });
    if (crossed) relist.push({ folderId: folder.id, parentId, inScope: within });
  };

  const inScope = new Map<string, boolean>();
  for (const folder of pageFolders.values()) {
    await place(folder, 0);
    inScope.set(folder.id, (await folders.get(folder.id))?.inScope === true);
  }
  for (const item of live) {
    if (isContainer(item)) continue;
    // A file sent without its parent: ask Graph where it is rather than call it gone.
    const parentId = parentOfItem(item) ?? (await lookups.parentOf(item.id))?.parentId ?? null;
    inScope.set(item.id, parentId !== null && (await folderInScope(parentId, 0)));
  }
  return inScope;
}
