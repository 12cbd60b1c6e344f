import type { FolderTree } from '../../types.js';

export interface FolderState {
  parentId: string | null;
  inScope: boolean;
}

/**
 * The folder tree as one page sees it: reads go to the stored tree once per
 * folder, this page's own updates are seen at once, and writes are batched
 * into one `put` and one `remove` at the end.
 */
export class FolderView {
  private readonly known = new Map<string, FolderState | null>();
  private readonly toPut = new Map<string, FolderState>();
  private readonly toRemove = new Set<string>();

  constructor(private readonly tree: FolderTree) {}

  async get(folderId: string): Promise<FolderState | null> {
    if (this.known.has(folderId)) return this.known.get(folderId) ?? null;
    const state = await this.tree.get(folderId);
    this.known.set(folderId, state);
    return state;
  }

  /** `persist: false` keeps the update to this page (the caller stores it later, see relist.ts). */
  set(folderId: string, state: FolderState, { persist }: { persist: boolean }): void {
    this.known.set(folderId, state);
    this.toRemove.delete(folderId);
    if (persist) this.toPut.set(folderId, state);
    else this.toPut.delete(folderId);
  }

  remove(folderId: string): void {
    this.known.set(folderId, null);
    this.toPut.delete(folderId);
    this.toRemove.add(folderId);
  }

  async save(): Promise<void> {
    if (this.toPut.size > 0) {
      await this.tree.put([...this.toPut].map(([folderId, state]) => ({ folderId, ...state })));
    }
    if (this.toRemove.size > 0) await this.tree.remove([...this.toRemove]);
  }
}
