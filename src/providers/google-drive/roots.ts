import { PermanentSourceError } from '../../errors.js';
import { MAX_SHARED_DRIVES } from './cursor.js';
import { isFolder } from './mapping.js';
import type { DriveSession } from './session.js';

/**
 * The tops of the connector's scope, one per change log: what the crawl starts
 * from and what the ancestry of every change must reach.
 */
export interface ScopeRoot {
  root: string;
  /** The shared drive whose own log and listings serve it; absent for My Drive and for a folder of a drive the identity is not a member of. */
  driveId?: string;
  /** The root folder's resource key (a folder reached by link). */
  resourceKey?: string;
}

function notUsable(key: string, problem: string, code: string): PermanentSourceError {
  return new PermanentSourceError(`connector config "${key}" ${problem}`, code, 'sync');
}

export async function sharedDrivesOf(session: DriveSession): Promise<ScopeRoot[]> {
  const drives = await session.client.listSharedDrives();
  if (drives.length > MAX_SHARED_DRIVES) {
    throw notUsable(
      'all_shared_drives',
      `would sync ${drives.length} shared drives, more than the ${MAX_SHARED_DRIVES} one connector follows; create one connector per drive_id instead`,
      'tooManyDrives',
    );
  }
  return drives.map((d) => ({ root: d.id, driveId: d.id }));
}

/** The scope's roots, or why the one root the config names cannot be found (gone, trashed, no longer shared). */
export type ScopeLookup = { roots: ScopeRoot[] } | { lost: PermanentSourceError; rootId: string };

export async function findScopeRoots(session: DriveSession): Promise<ScopeLookup> {
  const { scope } = session.config;
  const { client } = session;
  switch (scope.kind) {
    case 'my-drive':
      return { roots: [{ root: (await client.getFile('root', 'id')).id }] };
    case 'all-shared-drives':
      return { roots: [{ root: (await client.getFile('root', 'id')).id }, ...(await sharedDrivesOf(session))] };
    case 'shared-drive': {
      const drive = await client.findSharedDrive(scope.driveId);
      if (!drive) return { lost: notUsable('drive_id', 'names no shared drive this Google identity is a member of', 'driveNotFound'), rootId: scope.driveId };
      return { roots: [{ root: drive.id, driveId: drive.id }] };
    }
    case 'folder': {
      const folder = await client.findFile(scope.folderId, 'id,name,mimeType,driveId,trashed,resourceKey', scope.resourceKey);
      if (!folder || folder.trashed) {
        return {
          lost: notUsable('folder_id', 'names a folder that was not found, is trashed, or is not shared with this Google identity', 'folderNotFound'),
          rootId: scope.folderId,
        };
      }
      if (!isFolder(folder)) throw notUsable('folder_id', `names a file (${folder.mimeType}), not a folder`, 'notAFolder');
      if (scope.driveId && folder.driveId !== scope.driveId) {
        throw notUsable('folder_id', 'names a folder that is not in the shared drive "drive_id" names', 'folderNotInDrive');
      }
      const resourceKey = folder.resourceKey ?? scope.resourceKey;
      const key = resourceKey ? { resourceKey } : {};
      // A folder of a shared drive shared with a non-member: drives.get, the drive's log and corpora=drive all answer 404
      // to them; its changes are in the user's own log (about-changelogs), its listings work with corpora=allDrives.
      if (folder.driveId && !(await client.findSharedDrive(folder.driveId))) {
        session.logger.info({ folderId: folder.id }, 'Google Drive: the folder is in a shared drive this identity is not a member of; using its own change log');
        return { roots: [{ root: folder.id, ...key }] };
      }
      return { roots: [{ root: folder.id, ...(folder.driveId ? { driveId: folder.driveId } : {}), ...key }] };
    }
  }
}

/** The roots, or the PermanentSourceError that says the config names nothing (a connector's first sync). */
export async function resolveScopeRoots(session: DriveSession): Promise<ScopeRoot[]> {
  const found = await findScopeRoots(session);
  if ('lost' in found) throw found.lost;
  return found.roots;
}
