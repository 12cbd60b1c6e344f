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
}

export interface ChangeEntry {
  seq: number;
  fileId: string;
  corpus: string;
  /** The file left this corpus (moved to another drive); removed for this log. */
  leftCorpus: boolean;
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

  canSee(identity: string, file: StoredFile): boolean {
    if (file.driveId) return this.drives.get(file.driveId)?.members.has(identity) ?? false;
    return file.owner === identity;
  }

  private record(file: StoredFile, leftCorpus?: string): void {
    if (leftCorpus) this.log.push({ seq: this.nextSeq++, fileId: file.id, corpus: leftCorpus, leftCorpus: true });
    this.log.push({ seq: this.nextSeq++, fileId: file.id, corpus: this.corpusOf(file), leftCorpus: false });
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

  /** Trashing a folder trashes its subtree, each with a change (what Drive reports). */
  trash(id: string): void {
    for (const file of [this.get(id), ...this.descendants(id)]) {
      file.trashed = true;
      this.touch(file);
    }
  }

  untrash(id: string): void {
    for (const file of [this.get(id), ...this.descendants(id)]) {
      file.trashed = false;
      this.touch(file);
    }
  }

  /** Deletes for good: the log reports `removed` for the file and its subtree. */
  remove(id: string): void {
    for (const file of [this.get(id), ...this.descendants(id)]) {
      const corpus = this.corpusOf(file);
      this.files.delete(file.id);
      this.log.push({ seq: this.nextSeq++, fileId: file.id, corpus, leftCorpus: false });
    }
  }

  md5(file: StoredFile): string | undefined {
    return file.content ? createHash('md5').update(file.content).digest('hex') : undefined;
  }
}
