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
  /** The shared drive it lives in; absent for My Drive. */
  driveId?: string;
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

export async function resolveScopeRoots(session: DriveSession): Promise<ScopeRoot[]> {
  const { scope } = session.config;
  const { client } = session;
  switch (scope.kind) {
    case 'my-drive':
      return [{ root: (await client.getFile('root', 'id')).id }];
    case 'all-shared-drives':
      return [{ root: (await client.getFile('root', 'id')).id }, ...(await sharedDrivesOf(session))];
    case 'shared-drive': {
      const drive = await client.findSharedDrive(scope.driveId);
      if (!drive) throw notUsable('drive_id', 'names no shared drive this Google identity is a member of', 'driveNotFound');
      return [{ root: drive.id, driveId: drive.id }];
    }
    case 'folder': {
      const folder = await client.findFile(scope.folderId, 'id,name,mimeType,driveId,trashed');
      if (!folder || folder.trashed) {
        throw notUsable('folder_id', 'names a folder that was not found, is trashed, or is not shared with this Google identity', 'folderNotFound');
      }
      if (!isFolder(folder)) throw notUsable('folder_id', `names a file (${folder.mimeType}), not a folder`, 'notAFolder');
      if (scope.driveId && folder.driveId !== scope.driveId) {
        throw notUsable('folder_id', 'names a folder that is not in the shared drive "drive_id" names', 'folderNotInDrive');
      }
      return [{ root: folder.id, ...(folder.driveId ? { driveId: folder.driveId } : {}) }];
    }
  }
}
