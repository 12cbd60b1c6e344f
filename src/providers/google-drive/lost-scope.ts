import { CursorExpiredError, PermanentSourceError } from '../../errors.js';
import type { ChangePage } from '../types.js';
import type { DriveCursor, LostCursor } from './cursor.js';
import { findScopeRoots } from './roots.js';
import type { DriveSession } from './session.js';

/**
 * The scope itself is gone: the shared drive `drive_id` names was deleted or
 * left, the folder `folder_id` names was trashed, deleted or unshared. Its
 * documents are then swept, not kept: they are what this identity can no longer
 * see, and a search index that keeps them leaks what Drive now refuses. One sync
 * of grace first (a 404 can come from an admin's change undone minutes later):
 *
 * 1. the sync that finds the root gone reports a skip that says what happens next;
 * 2. the next sync, root still gone: an empty full enumeration, whose sweep
 *    removes every document of the connector;
 * 3. later syncs: `error`, saying the documents were removed and what to change.
 *
 * The root coming back at any step starts a new enumeration (nothing unchanged is downloaded again).
 */

/**
 * Thrown where the root answers 404. `listDriveChanges` answers it in the same call with the
 * `lost` page; should it escape, the pipeline restarts from the `lost` cursor it carries.
 */
export function scopeLost(scope: string, why: string): CursorExpiredError {
  const restartFrom: LostCursor = { v: 1, phase: 'lost', scope, checks: 0 };
  return new CursorExpiredError(`${why}; checking whether the connector's scope is gone`, 'scopeGone', { restartFrom });
}

/**
 * A root of the scope answered "gone". For all_shared_drives that is one drive among
 * several: a new enumeration of the drives there are now (its sweep removes the lost
 * drive's documents). For a connector scoped to that one root, the scope is lost.
 */
export function rootLost(session: DriveSession, scope: string, why: string): CursorExpiredError {
  if (session.config.scope.kind === 'all-shared-drives') {
    return new CursorExpiredError(`${why} (one of the shared drives this connector syncs); enumerating the shared drives again`, 'sharedDriveGone');
  }
  return scopeLost(scope, why);
}

export async function lostScopePage(
  session: DriveSession,
  cursor: LostCursor,
  enumerate: () => Promise<ChangePage<DriveCursor>>,
): Promise<ChangePage<DriveCursor>> {
  const found = await findScopeRoots(session);
  if ('roots' in found) {
    session.logger.info({ scope: cursor.scope }, 'Google Drive: the scope is back; enumerating it again');
    return enumerate();
  }
  const { lost, rootId } = found;
  if (cursor.checks === 0) {
    session.logger.warn({ scope: cursor.scope }, 'Google Drive: the scope is gone; its documents are removed if it is still gone at the next sync');
    return {
      changes: [
        {
          kind: 'skip',
          sourceId: rootId,
          reason: `${lost.message}; if it is still gone at the next sync, the documents synced from it are removed from EchoMind`,
        },
      ],
      cursor: { ...cursor, checks: 1 },
      hasMore: false,
      fullEnumeration: false,
    };
  }
  if (cursor.checks === 1) {
    session.logger.warn({ scope: cursor.scope }, 'Google Drive: the scope is still gone; removing the documents synced from it');
    return { changes: [], cursor: { ...cursor, checks: 2 }, hasMore: false, fullEnumeration: true, enumerationComplete: true };
  }
  throw new PermanentSourceError(
    `${lost.message}; the documents synced from it were removed from EchoMind. Point the connector at a folder or shared drive it can read, or delete the connector`,
    lost.code,
    'sync',
  );
}
