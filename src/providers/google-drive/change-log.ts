import { CursorExpiredError, isCursorExpired, PermanentSourceError, SourceProtocolError } from '../../errors.js';
import type { SourceChange } from '../types.js';
import type { ChangeLog, ChangesCursor, FolderTask } from './cursor.js';
import type { DriveChange, DriveFile } from './api.js';
import { isFolder, isShortcut, mapDriveFile } from './mapping.js';
import { rootLost } from './lost-scope.js';
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
  /** The scope roots: a rename never moves the scope; the root trashed or removed loses it. */
  roots: ReadonlySet<string>;
  /** The cursor's scope key (for the `lost` cursor). */
  scope: string;
  tasks: FolderTask[];
}

/** A folder changed: a new scope state starts a walk of its subtree. */
async function onFolder(page: PageContext, folder: DriveFile): Promise<void> {
  const { session } = page;
  if (page.roots.has(folder.id)) {
    if (folder.trashed) throw rootLost(session, page.scope, 'the folder the connector syncs was trashed');
    return;
  }
  const before = await session.folders.get(folder.id);
  const now = !folder.trashed && (await session.scope.itemInScope(folder));
  await session.folders.put([{ folderId: folder.id, parentId: folder.parents?.[0] ?? null, inScope: now }]);
  const task = { folderId: folder.id, ...session.corpora.listingDrive(folder.driveId), ...(folder.resourceKey ? { resourceKey: folder.resourceKey } : {}) };
  if (now && !before?.inScope) page.tasks.push({ ...task, mode: 'upsert' });
  // Trashed folders too: bulk trash may log the folder alone ("might take time", delete guide), so the walk lists its trashed children.
  if (!now && before?.inScope) page.tasks.push({ ...task, mode: 'delete' });
}

/**
 * `removed`: deleted for good, no longer visible to the identity, or gone from this log's corpus.
 * `stillVisible` is the file when Drive says the identity can still see it (includeCorpusRemovals).
 */
async function onGone(page: PageContext, fileId: string, stillVisible: DriveFile | undefined): Promise<SourceChange[]> {
  const { session } = page;
  // With several logs, "removed" in one may be "moved to another drive we also sync".
  if (page.drivesWithOwnLog.size > 0 && stillVisible && !stillVisible.trashed) return onFile(page, stillVisible);
  if (page.roots.has(fileId)) throw rootLost(session, page.scope, 'the folder the connector syncs was deleted or is no longer shared with this identity');
  const folder = await session.folders.get(fileId);
  if (folder) {
    await session.folders.remove([fileId]);
    // Its children may get no removal of their own: a delete walk (a 404 there means a new enumeration, whose sweep removes them).
    if (folder.inScope) page.tasks.push({ folderId: fileId, mode: 'delete' });
    return []; // a folder is never a document
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

/**
 * A shared drive's own change (`changeType: drive`). Removed (deleted, or this
 * identity left it): a drive we read a log of is gone. For all_shared_drives a
 * new enumeration sweeps it; a connector scoped to that drive has lost its scope.
 */
function onDrive(page: PageContext, change: DriveChange): SourceChange[] {
  const driveId = change.driveId ?? change.fileId;
  if (!change.removed || !driveId || !page.session.corpora.drives.has(driveId)) return [];
  throw rootLost(page.session, page.scope, 'the shared drive the connector syncs was deleted or this identity left it');
}

export async function applyChange(page: PageContext, change: DriveChange): Promise<SourceChange[]> {
  if (change.changeType === 'drive') return onDrive(page, change);
  if (!change.fileId) return [];
  if (change.removed || !change.file) return onGone(page, change.fileId, change.removed ? change.file : undefined);
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

/**
 * A shared drive's log refusing the saved token (404 included) asks whether the
 * drive still exists before giving up: gone or left means the scope is lost (or,
 * for all_shared_drives, a new enumeration without it); still there means the
 * token alone is bad, and the source is enumerated again, once. Drive's page
 * tokens "don't expire" (changes.getStartPageToken), so a start token refused
 * right after the enumeration that took it would be refused after every new
 * one: that sync stops instead of crawling in a loop, and the next tries again.
 */
async function readLog(session: DriveSession, cursor: ChangesCursor, log: ChangeLog) {
  try {
    return await session.client.listChanges(log.token, log.driveId);
  } catch (e) {
    if (!isCursorExpired(e)) throw e;
    if (log.driveId && !(await session.client.findSharedDrive(log.driveId))) {
      throw rootLost(session, cursor.scope, 'the shared drive the connector syncs was deleted or this identity left it');
    }
    if (log.fresh) throw startTokenRefused(e);
    throw e;
  }
}

function startTokenRefused(cause: Error): PermanentSourceError {
  return new PermanentSourceError(
    'Google Drive refused the change log token it issued when this connector last enumerated everything; enumerating again would only repeat that, ' +
      'so this sync stops here and the next one tries the same token again (if it keeps failing, check the Drive API status and the service logs)',
    'startTokenRefused',
    'sync',
    { cause },
  );
}

/** Reads the next page of `cursor.logs[cursor.next]`; returns the changes and the advanced cursor. */
export async function readChangeLogPage(
  session: DriveSession,
  cursor: ChangesCursor,
): Promise<{ changes: SourceChange[]; cursor: ChangesCursor }> {
  const logs = cursor.logs.map((l) => ({ ...l }));
  const log = logs[cursor.next];
  if (!log) return { changes: [], cursor };
  const listing = await readLog(session, cursor, log);
  const severalLogs = logs.length > 1;
  const page: PageContext = {
    session,
    log,
    drivesWithOwnLog: new Set(severalLogs ? logs.flatMap((l) => (l.driveId ? [l.driveId] : [])) : []),
    roots: new Set(logs.map((l) => l.root)),
    scope: cursor.scope,
    tasks: [],
  };
  const changes: SourceChange[] = [];
  for (const change of listing.changes) changes.push(...(await applyChange(page, change)));

  delete log.fresh;
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
