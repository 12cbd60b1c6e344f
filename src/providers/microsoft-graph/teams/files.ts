import { isPermanent, isRetryLater, isUnauthorized } from '../../../errors.js';
import type { FolderTree, SourceChange } from '../../types.js';
import { listDriveChanges } from '../onedrive/changes.js';
import { scopeKey } from '../onedrive/config.js';
import { parseOneDriveCursor } from '../onedrive/cursor.js';
import { queueRelist } from '../onedrive/relist.js';
import { driveFolderSession, type OneDriveSession } from '../onedrive/session.js';
import type { TeamsSession } from './session.js';
import { channelFilesFolder } from './channels.js';
import type { ChannelState, DriveState, TeamsCursor } from './cursor.js';

/**
 * Channel files folders, synced by the OneDrive source's own code with one
 * delta per drive: every standard channel's folder is in the team's library,
 * so one walk of that library serves them all, each file dispatched by its
 * folder (ancestry in the folder tree, scope.ts) and what lies outside every
 * synced channel's folder ignored. A private or shared channel's folder is in
 * its own site's drive, hence its own delta. Files keep their driveItem id as
 * source id, so a file also shared in a message is the same document.
 */

const DRIVE_PAGE_SIZE = 200;

/**
 * The connector's folder tree seen by one drive: its entries are kept apart by
 * a prefix. Clearing is left to the pipeline, which clears the whole tree
 * before a full enumeration.
 */
function driveFolders(tree: FolderTree, driveId: string): FolderTree {
  const prefix = `${driveId}|`;
  const strip = (id: string | null) => (id !== null && id.startsWith(prefix) ? id.slice(prefix.length) : id);
  return {
    async get(folderId) {
      const state = await tree.get(prefix + folderId);
      return state ? { ...state, parentId: strip(state.parentId) } : null;
    },
    put: (folders) => tree.put(folders.map((f) => ({ ...f, folderId: prefix + f.folderId, parentId: f.parentId === null ? null : prefix + f.parentId }))),
    remove: (folderIds) => tree.remove(folderIds.map((id) => prefix + id)),
    clear: () => Promise.resolve(),
  };
}

/** The OneDrive session of one drive, its scope the folders of the cursor's channels in it. */
function driveSession(session: TeamsSession, cursor: TeamsCursor, driveId: string): OneDriveSession {
  const folderIds = cursor.channels.flatMap((c) => (c.files?.driveId === driveId ? [c.files.folderId] : []));
  return driveFolderSession(
    session.graph,
    { driveId, folderIds, pageSize: DRIVE_PAGE_SIZE },
    { folders: driveFolders(session.folders, driveId), items: session.items, logger: session.logger, ...(session.signal ? { signal: session.signal } : {}) },
  );
}

/** Counted per channel (or drive) and pass; the drive cursor stays where it was, so nothing is lost. */
export const UNREADABLE_FILES_REASON = 'channel files not readable this time (a private or shared channel\'s site still being set up, or no permission); tried again next sync';

export interface FilesStep {
  changes: SourceChange[];
  cursor: TeamsCursor;
}

/**
 * A folder or drive that answers 403 or keeps failing (5xx): private and shared
 * channel sites are provisioned lazily and answer 404, 403 or 500 until someone
 * opens the Files tab (microsoft-graph-docs#6440, microsoft-graph-docs-contrib#8982, #4452).
 * Skipped for this pass with the reason; messages are not affected.
 */
function notReadable(session: TeamsSession, what: { sourceId: string; name?: string }, e: unknown): SourceChange {
  if (isUnauthorized(e) || !(isPermanent(e) || isRetryLater(e))) throw e;
  session.logger.warn({ sourceId: what.sourceId, code: e.code, error: e.message }, 'channel files could not be read; skipped for this pass');
  return { kind: 'skip', sourceId: what.sourceId, ...(what.name !== undefined ? { name: what.name } : {}), reason: UNREADABLE_FILES_REASON };
}

const withChannel = (cursor: TeamsCursor, state: ChannelState): TeamsCursor => ({ ...cursor, channels: cursor.channels.map((c) => (c.id === state.id ? state : c)) });
const withDrive = (cursor: TeamsCursor, drive: DriveState): TeamsCursor => ({ ...cursor, drives: cursor.drives.map((d) => (d.driveId === drive.driveId ? drive : d)) });

/**
 * A channel's part of the files: where its folder is (looked up once). A folder
 * found in a drive whose delta is already under way is listed once with
 * `/children` (OneDrive's relist queue), since that delta will not bring back
 * what it already passed.
 */
export async function channelFilesStep(session: TeamsSession, cursor: TeamsCursor, state: ChannelState): Promise<FilesStep> {
  if (state.files !== null) return { changes: [], cursor: withChannel(cursor, { ...state, filesDone: true }) };
  let found;
  try {
    found = await channelFilesFolder(session, state.id);
  } catch (e) {
    const skip = notReadable(session, { sourceId: `teams-channel-files:${state.id}`, name: state.name }, e);
    return { changes: [skip], cursor: withChannel(cursor, { ...state, filesDone: true }) };
  }
  if (found === null) {
    session.logger.debug({ channelId: state.id }, 'the channel has no files folder yet');
    return { changes: [], cursor: withChannel(cursor, { ...state, filesDone: true }) };
  }
  const next = withChannel(cursor, { ...state, files: { driveId: found.driveId, folderId: found.folderId }, filesDone: true });
  const drive = next.drives.find((d) => d.driveId === found.driveId);
  if (!drive) return { changes: [], cursor: { ...next, drives: [...next.drives, { driveId: found.driveId, cursor: null, done: false }] } };
  const driveCursor = drive.cursor === null ? null : parseOneDriveCursor(drive.cursor, session.graph.baseUrl);
  if (driveCursor === null) return { changes: [], cursor: next };
  const relisted = await queueRelist(driveSession(session, next, found.driveId), driveCursor, { folderId: found.folderId, parentId: found.parentId, inScope: true });
  return { changes: [], cursor: withDrive(next, { ...drive, cursor: { ...relisted } }) };
}

/** One page of a drive's delta, for every channel folder it holds. */
export async function driveFilesStep(session: TeamsSession, cursor: TeamsCursor, drive: DriveState): Promise<FilesStep> {
  const onedrive = driveSession(session, cursor, drive.driveId);
  const from = drive.cursor === null ? null : parseOneDriveCursor(drive.cursor, session.graph.baseUrl);
  try {
    const page = await listDriveChanges(onedrive, from);
    return { changes: page.changes, cursor: withDrive(cursor, { ...drive, cursor: { ...page.cursor }, done: !page.hasMore }) };
  } catch (e) {
    if (isPermanent(e) && e.code === 'driveNotFound') {
      // The drive went away (a private channel's site being deleted): its channels' folders are looked up again next pass.
      session.logger.warn({ driveId: drive.driveId }, 'a channel files drive no longer exists; its channels\' folders are looked up again next sync');
      return {
        changes: [],
        cursor: {
          ...cursor,
          drives: cursor.drives.filter((d) => d.driveId !== drive.driveId),
          channels: cursor.channels.map((c) => (c.files?.driveId === drive.driveId ? { ...c, files: null } : c)),
        },
      };
    }
    const skip = notReadable(session, { sourceId: `teams-drive-files:${drive.driveId}` }, e);
    return { changes: [skip], cursor: withDrive(cursor, { ...drive, done: true }) };
  }
}

/**
 * A channel that left the team or the sync scope: its files, found below its
 * folder among the drive's recorded items, are deleted without reading
 * anything, and the folder leaves the drive's scope (its subfolders' entries
 * go, so a later change below it is placed again, outside).
 */
export async function goneChannelFiles(session: TeamsSession, cursor: TeamsCursor, gone: ChannelState): Promise<SourceChange[]> {
  if (gone.files === null) return [];
  const onedrive = driveSession(session, cursor, gone.files.driveId);
  const { below } = await session.items.removeSubtrees(scopeKey(onedrive.config), [gone.files.folderId]);
  await onedrive.folders.remove(below.filter((i) => i.folder).map((i) => i.itemId));
  await onedrive.folders.put([{ folderId: gone.files.folderId, parentId: null, inScope: false }]);
  return below.filter((i) => !i.folder).map((i): SourceChange => ({ kind: 'delete', sourceId: i.itemId }));
}

/** The items scopes a per-channel files cursor recorded under (one per channel folder): cleared when that cursor is replaced. */
export function perChannelItemScopes(channels: ReadonlyArray<{ files?: { driveId: string; folderId: string } | null }>): string[] {
  return channels.flatMap((c) =>
    c.files ? [scopeKey({ target: { kind: 'drive', id: c.files.driveId }, folder: { kind: 'id', id: c.files.folderId }, pageSize: DRIVE_PAGE_SIZE, fullEnumerationDays: 0 })] : [],
  );
}
