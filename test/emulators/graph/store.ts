import { createHash } from 'node:crypto';

/**
 * The emulator's drives: items in a tree, and a change log from which delta
 * answers. Every mutation appends snapshots to the log (the changed item, after
 * its ancestors, as Graph lists parents before children), so delta can replay
 * an item more than once, with stale states first, as the real one may.
 */

export type ItemKind = 'root' | 'folder' | 'file' | 'package';

export interface StoredItem {
  id: string;
  driveId: string;
  name: string;
  parentId: string | null;
  kind: ItemKind;
  content: Buffer;
  mimeType?: string;
  /** Bumped by content changes: the cTag. */
  contentVersion: number;
  /** Bumped by any change, metadata included: the eTag. */
  version: number;
  lastModified: string;
  deleted: boolean;
  /** The folder whose deletion took this item along (restoring that folder restores it). */
  deletedWith?: string;
  /** Leave `quickXorHash` out, as Business does for files never downloaded. */
  withoutHash?: boolean;
  /** Flagged by the malware scan: carries the `malware` facet and its bytes cannot be downloaded. */
  malware?: boolean;
}

export interface StoredDrive {
  id: string;
  driveType: 'business' | 'personal' | 'documentLibrary';
  name: string;
  rootId: string;
}

export interface ChangeEntry {
  seq: number;
  driveId: string;
  snapshot: Readonly<StoredItem>;
}

/** A parent given as a path from the drive root (`/A/B`, `/` for the root) or as an item id. */
export type ParentRef = string;

export interface FileOptions {
  mimeType?: string;
  driveId?: string;
  withoutHash?: boolean;
  malware?: boolean;
}

/** Item ids stay unique across stores, so an id from a reset emulator never names a new item. */
let nextItemNumber = 1;

export class GraphStore {
  readonly drives = new Map<string, StoredDrive>();
  readonly items = new Map<string, StoredItem>();
  /** User id or user principal name (lower case) → drive id. */
  readonly userDrives = new Map<string, string>();
  /** Site id → its default library's drive id. */
  readonly siteDrives = new Map<string, string>();
  /** Site id → every document library's drive id (the default one first). */
  readonly siteLibraries = new Map<string, string[]>();
  /** `host:/server/relative/path` (lower case) → site id, for Graph's path form of a site. */
  readonly sitePaths = new Map<string, string>();
  readonly log: ChangeEntry[] = [];
  /** Whether a change also re-emits the changed item's ancestor folders (personal OneDrive does). */
  emitAncestors = true;
  /**
   * A first delta lists children before their parents. Graph: "Do not assume a specific sequence
   * … the same item can show up anywhere in the @odata.nextLink sequence"
   * (https://learn.microsoft.com/en-us/graph/delta-query-overview); the worst plausible order.
   */
  childrenFirst = false;
  /**
   * Delta lists each changed item once, where its last change falls, rather than replaying every
   * change: "the same item can show up anywhere in the @odata.nextLink sequence" (delta overview,
   * as above). With ancestors logged after the item (see `record`), a new folder then comes after
   * its first file.
   */
  collapseDelta = false;
  /** Told of every change delta will report, by drive (the push emulator listens: push.ts). */
  onChange: ((driveId: string) => void) | undefined;
  private seq = 0;
  private clock = Date.parse('2026-01-05T09:00:00Z');
  defaultDriveId = '';

  get currentSeq(): number {
    return this.seq;
  }

  createDrive(
    options: { id?: string; driveType?: StoredDrive['driveType']; userIds?: string[]; siteId?: string; sitePath?: string; name?: string } = {},
  ): StoredDrive {
    const id = options.id ?? `b!emu-drive-${this.drives.size + 1}`;
    const root = this.newItem({ driveId: id, name: 'root', parentId: null, kind: 'root' });
    const drive: StoredDrive = { id, driveType: options.driveType ?? 'business', name: options.name ?? 'Documents', rootId: root.id };
    this.drives.set(id, drive);
    for (const user of options.userIds ?? []) this.userDrives.set(user.toLowerCase(), id);
    if (options.siteId) {
      this.siteDrives.set(options.siteId, id);
      this.siteLibraries.set(options.siteId, [id, ...(this.siteLibraries.get(options.siteId) ?? [])]);
    }
    if (options.siteId && options.sitePath) this.sitePaths.set(options.sitePath.toLowerCase(), options.siteId);
    if (!this.defaultDriveId) this.defaultDriveId = id;
    return drive;
  }

  /** Another document library of a site (not its default one). */
  addLibrary(siteId: string, name: string): StoredDrive {
    const id = `b!emu-library-${this.drives.size + 1}`;
    const root = this.newItem({ driveId: id, name: 'root', parentId: null, kind: 'root' });
    const drive: StoredDrive = { id, driveType: 'documentLibrary', name, rootId: root.id };
    this.drives.set(id, drive);
    this.siteLibraries.set(siteId, [...(this.siteLibraries.get(siteId) ?? []), id]);
    return drive;
  }

  addFolder(parent: ParentRef, name: string, options: { driveId?: string; kind?: 'folder' | 'package' } = {}): StoredItem {
    const parentItem = this.resolve(parent, options.driveId);
    const item = this.newItem({ driveId: parentItem.driveId, name, parentId: parentItem.id, kind: options.kind ?? 'folder' });
    this.record(item);
    return item;
  }

  addFile(parent: ParentRef, name: string, content: string | Buffer, options: FileOptions = {}): StoredItem {
    const parentItem = this.resolve(parent, options.driveId);
    const item = this.newItem({ driveId: parentItem.driveId, name, parentId: parentItem.id, kind: 'file' });
    item.content = Buffer.from(content);
    item.mimeType = options.mimeType;
    item.withoutHash = options.withoutHash;
    item.malware = options.malware;
    this.record(item);
    return item;
  }

  /** New bytes: new cTag and eTag. */
  updateFile(ref: string, content: string | Buffer): StoredItem {
    const item = this.live(ref);
    item.content = Buffer.from(content);
    item.contentVersion++;
    return this.touch(item);
  }

  /** New name: new eTag, same cTag. */
  rename(ref: string, name: string): StoredItem {
    const item = this.live(ref);
    item.name = name;
    return this.touch(item);
  }

  /** New parent: new eTag, same cTag; a moved folder's children are not re-emitted. */
  move(ref: string, newParent: ParentRef): StoredItem {
    const item = this.live(ref);
    const parent = this.resolve(newParent, item.driveId);
    if (parent.driveId !== item.driveId) throw new Error('the emulator does not move items between drives');
    for (let p: StoredItem | undefined = parent; p; p = p.parentId ? this.items.get(p.parentId) : undefined) {
      if (p.id === item.id) throw new Error(`cannot move ${item.name} under itself`);
    }
    item.parentId = parent.id;
    return this.touch(item);
  }

  /**
   * Deletes an item and its subtree; delta reports a tombstone for the item alone. Graph's delta
   * reference promises no tombstone per descendant (it only says "delete a folder locally if it is
   * empty after syncing all the changes", https://learn.microsoft.com/en-us/graph/api/driveitem-delta),
   * SharePoint's own change log returns only the folder (SharePoint/sp-dev-docs#5964), and some
   * tombstones never arrive (OneDrive/onedrive-api-docs#1927): the worst plausible answer.
   */
  delete(ref: string): void {
    const item = this.live(ref);
    const ancestors = this.emitAncestors ? this.ancestors(item) : [];
    for (const d of this.descendants(item)) {
      d.deleted = true;
      d.deletedWith = item.id;
      d.version++;
    }
    item.deleted = true;
    item.version++;
    this.seq++;
    this.log.push({ seq: this.seq, driveId: item.driveId, snapshot: { ...item } });
    for (const a of ancestors.reverse()) this.log.push({ seq: this.seq, driveId: a.driveId, snapshot: { ...a } });
    this.onChange?.(item.driveId);
  }

  /**
   * Deletes an item and its subtree with no tombstone at all: "some tombstones never arrive"
   * (OneDrive/onedrive-api-docs#1927). Only a full enumeration can notice.
   */
  loseTombstone(ref: string): void {
    const item = this.live(ref);
    for (const d of [item, ...this.descendants(item)]) {
      d.deleted = true;
      d.version++;
    }
  }

  /**
   * Restores a deleted item from the recycle bin with the subtree deleted along with it. Delta
   * reports the item alone: the reference does not say the children come back with it, so the
   * worst plausible answer is that they do not.
   */
  restore(id: string): StoredItem {
    const item = this.items.get(id);
    if (!item?.deleted) throw new Error(`the emulator has no deleted item ${id}`);
    item.deleted = false;
    for (const d of this.items.values()) {
      if (d.deletedWith !== id) continue;
      d.deleted = false;
      delete d.deletedWith;
      d.version++;
    }
    return this.touch(item);
  }

  item(id: string): StoredItem | undefined {
    return this.items.get(id);
  }

  live(ref: string, driveId?: string): StoredItem {
    const item = ref.startsWith('/') ? this.byPath(driveId ?? this.defaultDriveId, ref) : this.items.get(ref);
    if (!item || item.deleted) throw new Error(`the emulator has no live item ${ref}`);
    return item;
  }

  byPath(driveId: string, path: string): StoredItem | undefined {
    const drive = this.drives.get(driveId);
    if (!drive) return undefined;
    let current = this.items.get(drive.rootId);
    for (const segment of path.split('/').filter(Boolean)) {
      current = current ? this.children(current.id).find((c) => c.name.toLowerCase() === segment.toLowerCase()) : undefined;
    }
    return current;
  }

  children(parentId: string): StoredItem[] {
    return [...this.items.values()].filter((i) => i.parentId === parentId && !i.deleted);
  }

  /** Live items of a drive in the order of a first delta: parents first, or children first (see `childrenFirst`). */
  deltaOrder(driveId: string): StoredItem[] {
    const ordered = this.treeOrder(driveId);
    return this.childrenFirst ? ordered.reverse() : ordered;
  }

  /** Live items of a drive, each parent before its children. */
  treeOrder(driveId: string): StoredItem[] {
    const drive = this.drives.get(driveId);
    const root = drive ? this.items.get(drive.rootId) : undefined;
    if (!root) return [];
    const ordered: StoredItem[] = [];
    const queue = [root];
    for (let next = queue.shift(); next; next = queue.shift()) {
      ordered.push(next);
      queue.push(...this.children(next.id));
    }
    return ordered;
  }

  /** `/A/B/name` from the drive root, for paths and web URLs. */
  pathOf(item: StoredItem): string {
    const names: string[] = [];
    for (let p: StoredItem | undefined = item; p && p.kind !== 'root'; p = p.parentId ? this.items.get(p.parentId) : undefined) names.unshift(p.name);
    return `/${names.join('/')}`;
  }

  quickXorHash(item: StoredItem): string {
    // A stand-in with the same shape (base64 of 20 bytes), not the real algorithm.
    return createHash('sha1').update(item.content).digest('base64');
  }

  private resolve(parent: ParentRef, driveId?: string): StoredItem {
    const item = this.live(parent, driveId);
    if (item.kind === 'file') throw new Error(`${parent} is a file, not a folder`);
    return item;
  }

  private newItem(fields: Pick<StoredItem, 'driveId' | 'name' | 'parentId' | 'kind'>): StoredItem {
    const item: StoredItem = {
      ...fields,
      id: `01EMU${String(nextItemNumber++).padStart(8, '0')}`,
      content: Buffer.alloc(0),
      contentVersion: 1,
      version: 1,
      lastModified: this.tick(),
      deleted: false,
    };
    this.items.set(item.id, item);
    return item;
  }

  private touch(item: StoredItem): StoredItem {
    item.version++;
    item.lastModified = this.tick();
    this.record(item);
    return item;
  }

  /**
   * Logs a change: the item, then its ancestors nearest first, as Graph lists them
   * (`['Nested Document1', 'Top Level Folder', 'root']`, OneDrive/onedrive-api-docs#295).
   */
  private record(item: StoredItem): void {
    this.seq++;
    const ancestors = this.emitAncestors ? this.ancestors(item).reverse() : [];
    for (const entry of [item, ...ancestors]) this.log.push({ seq: this.seq, driveId: entry.driveId, snapshot: { ...entry } });
    this.onChange?.(item.driveId);
  }

  private ancestors(item: StoredItem): StoredItem[] {
    const chain: StoredItem[] = [];
    for (let p = item.parentId ? this.items.get(item.parentId) : undefined; p; p = p.parentId ? this.items.get(p.parentId) : undefined) chain.unshift(p);
    return chain;
  }

  private descendants(item: StoredItem): StoredItem[] {
    return this.children(item.id).flatMap((child) => [child, ...this.descendants(child)]);
  }

  private tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }
}
