import { isPermanent, isRetryLater, isUnauthorized } from '../../../errors.js';
import type { FolderTree, SourceChange } from '../../types.js';
import { listDriveChanges } from '../onedrive/changes.js';
import { parseOneDriveCursor } from '../onedrive/cursor.js';
import { driveFolderSession } from '../onedrive/session.js';
import type { TeamsSession } from './session.js';
import { channelFilesFolder } from './channels.js';
import type { ChannelState } from './cursor.js';

/**
 * A channel's files folder (`…/filesFolder` gives its drive and folder) synced
 * by the OneDrive source's own code, scoped to that folder: drive delta at the
 * drive root, filtered by ancestry. Files keep their driveItem id as source id,
 * so a file also shared in a message is the same document.
 */

const DRIVE_PAGE_SIZE = 200;

/**
 * The connector's folder tree seen by one channel: its entries are kept apart
 * by a prefix. Clearing is left to the pipeline, which clears the whole tree
 * before a full enumeration; a channel whose drive cursor restarts re-lists
 * its drive from the root, overwriting its own entries.
 */
function channelFolders(tree: FolderTree, channelId: string): FolderTree {
  const prefix = `${channelId}|`;
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

/** Counted per channel and pass; the files cursor stays where it was, so nothing is lost. */
export const UNREADABLE_FILES_REASON = 'channel files not readable this time (a private or shared channel\'s site still being set up, or no permission); tried again next sync';

type FilesStep = { changes: SourceChange[]; state: ChannelState };

/**
 * The folder answers 403 or keeps failing (5xx): private and shared channel
 * sites are provisioned lazily and answer 404, 403 or 500 until someone opens
 * the Files tab (microsoft-graph-docs#6440, microsoft-graph-docs-contrib#8982, #4452).
 * The channel's files are skipped for this pass; its messages are not affected.
 */
function filesNotReadable(session: TeamsSession, state: ChannelState, e: unknown): FilesStep {
  if (isUnauthorized(e) || !(isPermanent(e) || isRetryLater(e))) throw e;
  session.logger.warn({ channelId: state.id, code: e.code, error: e.message }, 'the channel\'s files could not be read; skipped for this pass');
  return { changes: [{ kind: 'skip', sourceId: `teams-channel-files:${state.id}`, name: state.name, reason: UNREADABLE_FILES_REASON }], state: { ...state, filesDone: true } };
}

export async function channelFilesStep(session: TeamsSession, state: ChannelState): Promise<FilesStep> {
  let files;
  try {
    files = state.files ?? (await channelFilesFolder(session, state.id).then((f) => (f ? { ...f, cursor: null } : null)));
  } catch (e) {
    return filesNotReadable(session, state, e);
  }
  if (files === null) {
    session.logger.debug({ channelId: state.id }, 'the channel has no files folder yet');
    return { changes: [], state: { ...state, filesDone: true } };
  }
  const drive = driveFolderSession(
    session.graph,
    { driveId: files.driveId, folderId: files.folderId, pageSize: DRIVE_PAGE_SIZE },
    { folders: channelFolders(session.folders, state.id), items: session.items, logger: session.logger, ...(session.signal ? { signal: session.signal } : {}) },
  );
  const cursor = files.cursor === null ? null : parseOneDriveCursor(files.cursor, session.graph.baseUrl);
  try {
    const page = await listDriveChanges(drive, cursor);
    return { changes: page.changes, state: { ...state, files: { ...files, cursor: { ...page.cursor } }, filesDone: !page.hasMore } };
  } catch (e) {
    if (isPermanent(e) && e.code === 'driveNotFound') {
      // The folder's site went away (a private channel being deleted): look it up again next pass.
      return { changes: [], state: { ...state, files: null, filesDone: true } };
    }
    return filesNotReadable(session, state, e);
  }
}
