import type { FolderTree } from '../types.js';
import type { DriveClient } from './client.js';
import type { DriveFile } from './api.js';

/**
 * Is a file inside the connector's scope? Decided by ancestry over the folder
 * tree the crawl records (`connector_sync.source_folders`): every folder seen
 * has a row with its parent and whether it is in scope. A folder the tree does
 * not know (created or moved in since) is looked up once and remembered, in or
 * out of scope alike.
 *
 * Shortcuts add two kinds of rows, keyed so they never collide with a Drive id
 * (Drive ids are [A-Za-z0-9_-]):
 * - `shortcut:<shortcutId>` → parentId = the target: lets a removal (which
 *   carries no file) still find what the shortcut brought in;
 * - `target:<targetId>` → parentId = the folder holding the shortcut: the target
 *   stays in scope while that folder does, wherever the target itself lives.
 */

export const shortcutKey = (shortcutId: string): string => `shortcut:${shortcutId}`;
export const targetKey = (targetId: string): string => `target:${targetId}`;

/** Deeper than any real Drive tree: a guard against loops in bad data. */
const MAX_DEPTH = 100;

export class ScopeTree {
  constructor(
    readonly folders: FolderTree,
    private readonly client: DriveClient,
  ) {}

  async folderInScope(folderId: string, depth = 0): Promise<boolean> {
    const row = await this.folders.get(folderId);
    if (row) return row.inScope;
    if (depth > MAX_DEPTH) return false;
    const folder = await this.client.findFile(folderId, 'id,parents,trashed');
    // Not visible, trashed, or a top-level folder of a corpus we do not sync.
    const inScope = folder !== null && !folder.trashed && (await this.parentsInScope(folder.parents ?? [], depth + 1));
    await this.folders.put([{ folderId, parentId: folder?.parents?.[0] ?? null, inScope }]);
    return inScope;
  }

  async parentsInScope(parents: readonly string[], depth = 0): Promise<boolean> {
    for (const parent of parents) {
      if (await this.folderInScope(parent, depth)) return true;
    }
    return false;
  }

  /** In scope through its own parents, or through a shortcut in an in-scope folder. */
  async itemInScope(file: Pick<DriveFile, 'id' | 'parents'>): Promise<boolean> {
    if (await this.parentsInScope(file.parents ?? [])) return true;
    const via = await this.folders.get(targetKey(file.id));
    return via !== null && via.inScope && via.parentId !== null && (await this.folderInScope(via.parentId));
  }
}
