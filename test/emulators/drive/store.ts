import { createHash } from 'node:crypto';

/**
 * The emulator's Drive: users with a My Drive each, shared drives with members,
 * files, and one change log with an entry per change and the corpus it belongs
 * to (`user:<email>` for My Drive items, `drive:<id>` for shared-drive items).
 */

export const FOLDER = 'application/vnd.google-apps.folder';
export const SHORTCUT = 'application/vnd.google-apps.shortcut';
export const NATIVE = {
  document: 'application/vnd.google-apps.document',
  spreadsheet: 'application/vnd.google-apps.spreadsheet',
  presentation: 'application/vnd.google-apps.presentation',
  drawing: 'application/vnd.google-apps.drawing',
  form: 'application/vnd.google-apps.form',
  site: 'application/vnd.google-apps.site',
  map: 'application/vnd.google-apps.map',
  jam: 'application/vnd.google-apps.jam',
} as const;

export interface StoredFile {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  /** Shared drive holding it; absent for My Drive items. */
  driveId?: string;
  /** Owner of a My Drive item. */
  owner?: string;
  trashed: boolean;
  version: number;
  modifiedTime: string;
  content?: Buffer;
  /** Google-native files: the bytes of each export type. */
  exports?: Map<string, Buffer>;
  /** Declared export size (to trip the 10 MB cap without building 10 MB). */
  exportSize?: number;
  shortcutTargetId?: string;
  /**
   * Users this item is shared with directly (a permission of type=user), members
   * of its shared drive or not: a shared-drive manager may share one folder with
   * a non-member, who then sees it (and what is below it) under "Shared with me"
   * (https://support.google.com/a/users/answer/9310251).
   */
  sharedWith?: Set<string>;
  /**
   * Shared by link (type=anyone, allowFileDiscovery=false) after Google's 2021
   * security update: someone without direct access must send this key in
   * `X-Goog-Drive-Resource-Keys` (https://developers.google.com/workspace/drive/api/guides/resource-keys).
   */
  resourceKey?: string;
  /**
   * The owner or an admin turned downloads off for readers: `capabilities.canDownload`
   * is false and `downloadRestrictions` says so
   * (https://developers.google.com/workspace/drive/api/reference/rest/v3/files, `downloadRestrictions`).
   */
  downloadRestricted?: boolean;
}

export interface ChangeEntry {
  seq: number;
  /** A file's change, or a shared drive's (`changeType: drive`: deleted, left, renamed). */
  type: 'file' | 'drive';
  /** The file, or for a drive entry the shared drive's id. */
  fileId: string;
  corpus: string;
  /** The file left this corpus (moved to another drive); removed for this log. */
  leftCorpus: boolean;
  /**
   * Who else gets this entry in their own user log: people with item-level
   * access who are not members of its shared drive (or do not own its My
   * Drive). "If a non-member is granted file access to individual items in a
   * shared drive, changes to those items are tracked in the user change log"
   * (https://developers.google.com/workspace/drive/api/guides/about-changelogs).
   * For a drive entry: the members it concerns.
   */
  alsoTo: string[];
}

export interface SharedDrive {
  id: string;
  name: string;
  members: Set<string>;
}

export const DEFAULT_USER = 'owner@example.com';

const bytes = (data: string | Buffer): Buffer => (typeof data === 'string' ? Buffer.from(data) : data);

export class DriveStore {
  readonly users = new Map<string, { rootId: string }>();
  readonly drives = new Map<string, SharedDrive>();
  readonly files = new Map<string, StoredFile>();
  readonly log: ChangeEntry[] = [];
  /** The next change's sequence number; a page token is a sequence number. */
  nextSeq = 1;
  /** Page tokens below this are refused (test: "the log was truncated"). */
  oldestValidToken = 1;
  /** Told after every entry added to the log (the push emulator listens: push.ts). */
  onLogged: (() => void) | undefined;
  private counter = 0;
  private clock = Date.parse('2026-01-05T09:00:00Z');

  constructor() {
    this.addUser(DEFAULT_USER);
  }

  private newId(prefix: string): string {
    this.counter += 1;
    return `${prefix}${this.counter.toString().padStart(4, '0')}`;
  }

  private tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  addUser(email: string): string {
    const existing = this.users.get(email);
    if (existing) return existing.rootId;
    const rootId = this.newId('root');
    this.users.set(email, { rootId });
    this.files.set(rootId, { id: rootId, name: 'My Drive', mimeType: FOLDER, parents: [], owner: email, trashed: false, version: 1, modifiedTime: this.tick() });
    return rootId;
  }

  rootOf(email: string): string {
    const user = this.users.get(email);
    if (!user) throw new Error(`emulator: no user ${email}`);
    return user.rootId;
  }

  addSharedDrive(name: string, members: string[] = [DEFAULT_USER]): string {
    const id = this.newId('0AD');
    this.drives.set(id, { id, name, members: new Set(members) });
    // The drive id doubles as the id of its root folder, as in Drive.
    this.files.set(id, { id, name, mimeType: FOLDER, parents: [], driveId: id, trashed: false, version: 1, modifiedTime: this.tick() });
    return id;
  }

  get(id: string): StoredFile {
    const file = this.files.get(id);
    if (!file) throw new Error(`emulator: no file ${id}`);
    return file;
  }

  corpusOf(file: StoredFile): string {
    return file.driveId ? `drive:${file.driveId}` : `user:${file.owner ?? DEFAULT_USER}`;
  }

  /** Access by corpus: a member of its shared drive, or the owner of its My Drive. */
  inOwnCorpus(identity: string, file: StoredFile): boolean {
    if (file.driveId) return this.drives.get(file.driveId)?.members.has(identity) ?? false;
    return file.owner === identity;
  }

  /** The item and its folders up to the top of its corpus (sharing a folder shares what is below it). */
  private lineage(file: StoredFile): StoredFile[] {
    const chain: StoredFile[] = [];
    let at: StoredFile | undefined = file;
    while (at && chain.length < 100) {
      chain.push(at);
      const parentId: string | undefined = at.parents[0];
      at = parentId ? this.files.get(parentId) : undefined;
    }
    return chain;
  }

  /** Direct access: its corpus, or an item-level share of it or of a folder above it. */
  canSee(identity: string, file: StoredFile): boolean {
    return this.inOwnCorpus(identity, file) || this.sharedDirectly(identity, file);
  }

  sharedDirectly(identity: string, file: StoredFile): boolean {
    return this.lineage(file).some((f) => f.sharedWith?.has(identity) ?? false);
  }

  /** Access through a link: the item (or a folder above it, for a listing) is link-shared and its key was sent. */
  canSeeByLink(file: StoredFile, keys: ReadonlyMap<string, string>): boolean {
    return this.lineage(file).some((f) => f.resourceKey !== undefined && keys.get(f.id) === f.resourceKey);
  }

  /** People with item-level access to the file who do not reach it through its corpus. */
  private sharedViewers(file: StoredFile): string[] {
    const viewers = new Set<string>();
    for (const f of this.lineage(file)) for (const who of f.sharedWith ?? []) viewers.add(who);
    return [...viewers].filter((who) => !this.inOwnCorpus(who, file));
  }

  private record(file: StoredFile, leftCorpus?: string): void {
    const alsoTo = this.sharedViewers(file);
    if (leftCorpus) this.log.push({ seq: this.nextSeq++, type: 'file', fileId: file.id, corpus: leftCorpus, leftCorpus: true, alsoTo });
    this.log.push({ seq: this.nextSeq++, type: 'file', fileId: file.id, corpus: this.corpusOf(file), leftCorpus: false, alsoTo });
    this.onLogged?.();
  }

  private create(parentId: string, fields: Omit<StoredFile, 'id' | 'parents' | 'trashed' | 'version' | 'modifiedTime'>, prefix: string): string {
    const parent = this.get(parentId);
    const id = this.newId(prefix);
    const file: StoredFile = {
      id,
      parents: [parentId],
      trashed: false,
      version: 1,
      modifiedTime: this.tick(),
      ...(parent.driveId ? { driveId: parent.driveId } : { owner: parent.owner ?? DEFAULT_USER }),
      ...fields,
    };
    this.files.set(id, file);
    this.record(file);
    return id;
  }

  addFolder(parentId: string, name: string): string {
    return this.create(parentId, { name, mimeType: FOLDER }, 'fld');
  }

  addFile(parentId: string, name: string, data: string | Buffer, options: { mimeType?: string } = {}): string {
    return this.create(parentId, { name, mimeType: options.mimeType ?? 'application/octet-stream', content: bytes(data) }, 'fil');
  }

  addNativeFile(
    parentId: string,
    name: string,
    mimeType: string,
    options: { exports?: Record<string, string | Buffer>; exportSize?: number } = {},
  ): string {
    const exports = new Map(Object.entries(options.exports ?? {}).map(([mime, data]) => [mime, bytes(data)]));
    return this.create(parentId, { name, mimeType, exports, ...(options.exportSize !== undefined ? { exportSize: options.exportSize } : {}) }, 'nat');
  }

  addShortcut(parentId: string, name: string, targetId: string): string {
    return this.create(parentId, { name, mimeType: SHORTCUT, shortcutTargetId: targetId }, 'sc');
  }

  private touch(file: StoredFile, leftCorpus?: string): void {
    file.version += 1;
    file.modifiedTime = this.tick();
    this.record(file, leftCorpus);
  }

  /** New bytes (binary) or new exports (native): a new version and md5. */
  update(id: string, change: { content?: string | Buffer; exports?: Record<string, string | Buffer>; exportSize?: number }): void {
    const file = this.get(id);
    if (change.content !== undefined) file.content = bytes(change.content);
    if (change.exports) file.exports = new Map(Object.entries(change.exports).map(([mime, data]) => [mime, bytes(data)]));
    if (change.exportSize !== undefined) file.exportSize = change.exportSize;
    this.touch(file);
  }

  rename(id: string, name: string): void {
    const file = this.get(id);
    file.name = name;
    this.touch(file);
  }

  descendants(id: string): StoredFile[] {
    const found: StoredFile[] = [];
    const queue = [id];
    while (queue.length > 0) {
      const parent = queue.shift() as string;
      for (const file of this.files.values()) {
        if (file.parents.includes(parent)) {
          found.push(file);
          if (file.mimeType === FOLDER) queue.push(file.id);
        }
      }
    }
    return found;
  }

  /** Moves a file or folder; a folder moving to another corpus takes its subtree along. */
  move(id: string, newParentId: string): void {
    const file = this.get(id);
    const target = this.get(newParentId);
    const before = this.corpusOf(file);
    file.parents = [newParentId];
    const relocate = (f: StoredFile) => {
      delete f.driveId;
      delete f.owner;
      if (target.driveId) f.driveId = target.driveId;
      else f.owner = target.owner ?? DEFAULT_USER;
    };
    relocate(file);
    const after = this.corpusOf(file);
    this.touch(file, before !== after ? before : undefined);
    if (before !== after) {
      for (const child of this.descendants(id)) {
        relocate(child);
        this.touch(child, before);
      }
    }
  }

  /**
   * Trashing a folder trashes its subtree (`trashed` is true "either explicitly
   * or from a trashed parent folder"), but only the folder gets a change: "If you
   * trash, restore, or permanently delete multiple files or folders at once, it
   * might take time for you to notice the changes"
   * (https://developers.google.com/workspace/drive/api/guides/delete). The worst
   * plausible reading: the descendants' changes never come.
   */
  trash(id: string): void {
    const top = this.get(id);
    for (const file of this.descendants(id)) file.trashed = true;
    top.trashed = true;
    this.touch(top);
  }

  /** Restoring is the same bulk operation: one change, for the restored item only. */
  untrash(id: string): void {
    const top = this.get(id);
    for (const file of this.descendants(id)) file.trashed = false;
    top.trashed = false;
    this.touch(top);
  }

  /**
   * Deletes for good, the subtree with it. Permanent deletion is a bulk operation like trashing
   * ("it might take time for you to notice the changes", delete guide): only the top item's
   * removal is logged.
   */
  remove(id: string): void {
    const top = this.get(id);
    const corpus = this.corpusOf(top);
    const alsoTo = this.sharedViewers(top);
    for (const file of [top, ...this.descendants(id)]) this.files.delete(file.id);
    this.log.push({ seq: this.nextSeq++, type: 'file', fileId: top.id, corpus, leftCorpus: false, alsoTo });
    this.onLogged?.();
  }

  /**
   * An item-level share (a permission of type=user). A sharing edit changes
   * `version` ("reflects every change made to the file on the server, even those
   * not visible to the user") but not `modifiedTime` ("the last time the file was
   * modified by anyone"): https://developers.google.com/workspace/drive/api/reference/rest/v3/files.
   */
  share(id: string, email: string): void {
    const file = this.get(id);
    (file.sharedWith ??= new Set()).add(email);
    file.version += 1;
    this.record(file);
    // The new viewer's log learns of what is below a shared folder too.
    if (file.mimeType === FOLDER) for (const child of this.descendants(id)) this.record(child);
  }

  /** Shared by link after the 2021 security update: the item and what is below it get resource keys. */
  shareByLink(id: string): string {
    const file = this.get(id);
    for (const f of [file, ...this.descendants(id)]) f.resourceKey ??= `0-rk${f.id}`;
    file.version += 1;
    this.record(file);
    return file.resourceKey as string;
  }

  restrictDownload(id: string): void {
    const file = this.get(id);
    file.downloadRestricted = true;
    file.version += 1;
    this.record(file);
  }

  /**
   * A shared drive deleted, or a member leaving it: a `changeType: drive` entry
   * in the user log of those it concerns, `removed` for them
   * (https://developers.google.com/workspace/drive/api/reference/rest/v3/changes).
   */
  private recordDrive(driveId: string, concerns: string[]): void {
    this.log.push({ seq: this.nextSeq++, type: 'drive', fileId: driveId, corpus: `drive:${driveId}`, leftCorpus: false, alsoTo: concerns });
    this.onLogged?.();
  }

  removeMember(driveId: string, email: string): void {
    const drive = this.drives.get(driveId);
    if (!drive) throw new Error(`emulator: no shared drive ${driveId}`);
    drive.members.delete(email);
    this.recordDrive(driveId, [email]);
  }

  deleteSharedDrive(driveId: string): void {
    const drive = this.drives.get(driveId);
    if (!drive) throw new Error(`emulator: no shared drive ${driveId}`);
    for (const file of [...this.files.values()]) if (file.driveId === driveId) this.files.delete(file.id);
    this.drives.delete(driveId);
    this.recordDrive(driveId, [...drive.members]);
  }

  md5(file: StoredFile): string | undefined {
    return file.content ? createHash('md5').update(file.content).digest('hex') : undefined;
  }
}
