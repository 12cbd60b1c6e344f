import { CursorExpiredError, SourceProtocolError } from '../../errors.js';
import type { SourceChange } from '../types.js';
import type { ChangeLog, ChangesCursor, FolderTask } from './cursor.js';
import type { DriveChange, DriveFile } from './api.js';
import { isFolder, isShortcut, mapDriveFile } from './mapping.js';
import { sharedDrivesOf } from './roots.js';
import { shortcutKey } from './scope.js';
import type { DriveSession } from './session.js';
import { dropShortcut, followShortcut } from './shortcuts.js';

/**
 * The change phase: read one page of one change log and turn it into what the
 * pipeline stores or deletes. Drive's log says what changed, not whether it is
 * ours: scope is decided by ancestry, and folders moving in or out of scope
 * start subtree walks (their children are not re-emitted).
 */

interface PageContext {
  session: DriveSession;
  log: ChangeLog;
  /** With several logs, the shared drives that have their own: the identity's log need not report them twice. */
  drivesWithOwnLog: ReadonlySet<string>;
  /** The scope roots: their own changes (renames, the root trashed) never move the scope. */
  roots: ReadonlySet<string>;
  tasks: FolderTask[];
}

/** A folder changed: a new scope state starts a walk of its subtree. */
async function onFolder(page: PageContext, folder: DriveFile): Promise<void> {
  const { session } = page;
  if (page.roots.has(folder.id)) return;
  const before = await session.folders.get(folder.id);
  const now = !folder.trashed && (await session.scope.itemInScope(folder));
  await session.folders.put([{ folderId: folder.id, parentId: folder.parents?.[0] ?? null, inScope: now }]);
  const drive = folder.driveId ? { driveId: folder.driveId } : {};
  if (now && !before?.inScope) page.tasks.push({ folderId: folder.id, ...drive, mode: 'upsert' });
  // Trashed folders too: their children normally come as trashed changes, this covers them if not.
  if (!now && before?.inScope) page.tasks.push({ folderId: folder.id, ...drive, mode: 'delete' });
}

/** `removed`: deleted for good, or no longer visible to the identity. No file comes with it. */
async function onGone(page: PageContext, fileId: string): Promise<SourceChange[]> {
  const { session } = page;
  if (page.drivesWithOwnLog.size > 0) {
    // With several logs, "removed" in one may be "moved to another drive we also sync": check.
    const file = await session.client.findFile(fileId);
    if (file && !file.trashed) return onFile(page, file);
  }
  const folder = await session.folders.get(fileId);
  if (folder) {
    await session.folders.remove([fileId]);
    return []; // a folder is never a document; its children report their own removal
  }
  if (await session.folders.get(shortcutKey(fileId))) return dropShortcut(session, fileId, page.tasks);
  return [{ kind: 'delete', sourceId: fileId }];
}

async function onFile(page: PageContext, file: DriveFile): Promise<SourceChange[]> {
  const { session } = page;
  if (isFolder(file)) {
    await onFolder(page, file);
    return [];
  }
  const inScope = !file.trashed && (await session.scope.itemInScope(file));
  if (isShortcut(file)) {
    return inScope ? followShortcut(session, file, file.parents?.[0], page.tasks) : dropShortcut(session, file.id, page.tasks);
  }
  // Out of scope: moved out, trashed, or never ours. Deleting an unknown document is a no-op.
  return inScope ? [mapDriveFile(file, session.config.exportFormats)] : [{ kind: 'delete', sourceId: file.id }];
}

export async function applyChange(page: PageContext, change: DriveChange): Promise<SourceChange[]> {
  if (!change.fileId) return [];
  if (change.removed || !change.file) return onGone(page, change.fileId);
  const file = change.file;
  if (!page.log.driveId && file.driveId && page.drivesWithOwnLog.has(file.driveId)) return [];
  return onFile(page, file);
}

/**
 * Before each pass over the logs: the folder tree must still hold the roots (if
 * it was wiped, every change would look out of scope and be deleted), and for
 * all_shared_drives the set of drives must not have changed (a new drive needs
 * a crawl, a lost one a sweep: both are what a new enumeration does).
 */
export async function checkBeforePass(session: DriveSession, cursor: ChangesCursor): Promise<void> {
  for (const log of cursor.logs) {
    if (!(await session.folders.get(log.root))?.inScope) {
      throw new CursorExpiredError('the folder tree of this Google Drive connector is missing; enumerating the source again', 'folderTreeMissing');
    }
  }
  if (session.config.scope.kind !== 'all-shared-drives') return;
  const now = new Set((await sharedDrivesOf(session)).map((d) => d.root));
  const before = new Set(cursor.logs.flatMap((l) => (l.driveId ? [l.driveId] : [])));
  const added = [...now].filter((id) => !before.has(id));
  const lost = [...before].filter((id) => !now.has(id));
  if (added.length > 0 || lost.length > 0) {
    throw new CursorExpiredError(
      `the shared drives visible to this identity changed (${added.length} added, ${lost.length} gone); enumerating them all again`,
      'sharedDrivesChanged',
    );
  }
}

/** Reads the next page of `cursor.logs[cursor.next]`; returns the changes and the advanced cursor. */
export async function readChangeLogPage(
  session: DriveSession,
  cursor: ChangesCursor,
): Promise<{ changes: SourceChange[]; cursor: ChangesCursor }> {
  const logs = cursor.logs.map((l) => ({ ...l }));
  const log = logs[cursor.next];
  if (!log) return { changes: [], cursor };
  const listing = await session.client.listChanges(log.token, log.driveId);
  const severalLogs = logs.length > 1;
  const page: PageContext = {
    session,
    log,
    drivesWithOwnLog: new Set(severalLogs ? logs.flatMap((l) => (l.driveId ? [l.driveId] : [])) : []),
    roots: new Set(logs.map((l) => l.root)),
    tasks: [],
  };
  const changes: SourceChange[] = [];
  for (const change of listing.changes) changes.push(...(await applyChange(page, change)));

  let next = cursor.next;
  if (listing.nextPageToken) {
    log.token = listing.nextPageToken;
  } else if (listing.newStartPageToken) {
    log.token = listing.newStartPageToken;
    next += 1;
  } else {
    throw new SourceProtocolError('Google Drive answered changes.list with neither nextPageToken nor newStartPageToken');
  }
  return { changes, cursor: { ...cursor, logs, next, pending: [...cursor.pending, ...page.tasks.reverse()] } };
}
