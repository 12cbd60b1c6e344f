import type { SourceChange } from '../types.js';
import type { FolderTask } from './cursor.js';
import { MAX_FOREIGN_TARGETS } from './cursor.js';
import type { DriveFile } from './api.js';
import { isFolder, isShortcut, mapDriveFile } from './mapping.js';
import { shortcutKey, targetKey } from './scope.js';
import type { DriveSession } from './session.js';

/**
 * A shortcut is reported as its target, under the target's own id: a file
 * reached through a shortcut and directly is stored once. A shortcut to a
 * folder brings that folder's subtree into scope (once: the folder tree doubles
 * as the guard against shortcut cycles).
 *
 * A target in a corpus whose change log we do not read (a shared drive seen from
 * My Drive, My Drive seen from a shared drive, a file reached by link) never
 * shows up in our logs: "certain changes are only reflected in the shared drive
 * change log" (about-changes). Such file targets are remembered in the cursor
 * and re-read with one files.get per pass.
 */

export async function followShortcut(
  session: DriveSession,
  shortcut: DriveFile,
  holdingFolderId: string | undefined,
  tasks: FolderTask[],
): Promise<SourceChange[]> {
  const dangling: SourceChange = { kind: 'skip', sourceId: shortcut.id, name: shortcut.name, reason: 'dangling shortcut' };
  const targetId = shortcut.shortcutDetails?.targetId;
  if (!targetId) return [dangling];
  // A link-shared target answers 404 without its key (Google's 2021 resource key update).
  const target = await session.client.findFile(targetId, undefined, shortcut.shortcutDetails?.targetResourceKey);
  if (!target || target.trashed) return [dangling];
  if (isShortcut(target)) return [{ ...dangling, reason: 'shortcut to a shortcut' }];
  const resourceKey = target.resourceKey ?? shortcut.shortcutDetails?.targetResourceKey;

  await session.folders.put([
    { folderId: shortcutKey(shortcut.id), parentId: target.id, inScope: true },
    ...(holdingFolderId ? [{ folderId: targetKey(target.id), parentId: holdingFolderId, inScope: true }] : []),
  ]);
  if (isFolder(target)) {
    const known = await session.folders.get(target.id);
    if (known?.inScope) return []; // already in scope, crawled or queued
    await session.folders.put([{ folderId: target.id, parentId: holdingFolderId ?? null, inScope: true }]);
    tasks.push({ folderId: target.id, ...session.corpora.listingDrive(target.driveId), ...(resourceKey ? { resourceKey } : {}), mode: 'upsert' });
    return [];
  }
  rememberIfForeign(session, target, resourceKey);
  return [mapDriveFile({ ...target, ...(resourceKey ? { resourceKey } : {}) }, session.config.exportFormats)];
}

function rememberIfForeign(session: DriveSession, target: DriveFile, resourceKey: string | undefined): void {
  if (session.corpora.covers({ driveId: target.driveId, resourceKey })) return;
  if (!session.foreignTargets.has(target.id) && session.foreignTargets.size >= MAX_FOREIGN_TARGETS) {
    session.logger.warn({ targetId: target.id }, 'Google Drive: too many shortcut targets outside the synced corpora to refresh each pass; this one is refreshed by full enumerations only');
    return;
  }
  session.foreignTargets.set(target.id, resourceKey);
}

/**
 * A shortcut left scope (trashed, removed, moved out): its target goes too,
 * unless the target is in scope on its own. Only shortcuts we followed have a
 * row; others never brought anything in.
 */
export async function dropShortcut(session: DriveSession, shortcutId: string, tasks: FolderTask[]): Promise<SourceChange[]> {
  const row = await session.folders.get(shortcutKey(shortcutId));
  if (!row?.parentId) return [];
  const targetId = row.parentId;
  await session.folders.remove([shortcutKey(shortcutId), targetKey(targetId)]);
  const resourceKey = session.foreignTargets.get(targetId);
  session.foreignTargets.delete(targetId);
  const target = await session.client.findFile(targetId, 'id,mimeType,parents,driveId,trashed', resourceKey);
  if (!target || target.trashed) return [{ kind: 'delete', sourceId: targetId }];
  if (await session.scope.parentsInScope(target.parents ?? [])) return [];
  if (!isFolder(target)) return [{ kind: 'delete', sourceId: targetId }];
  const known = await session.folders.get(targetId);
  if (known?.inScope) {
    await session.folders.put([{ folderId: targetId, parentId: target.parents?.[0] ?? null, inScope: false }]);
    tasks.push({ folderId: targetId, ...session.corpora.listingDrive(target.driveId), mode: 'delete' });
  }
  return [];
}

/**
 * Once per pass: each remembered foreign target, as it is now. Gone, trashed or
 * no longer reached through an in-scope shortcut: deleted (and forgotten);
 * otherwise reported again (same signature: nothing is downloaded).
 */
export async function refreshForeignTargets(session: DriveSession): Promise<SourceChange[]> {
  const changes: SourceChange[] = [];
  for (const [targetId, resourceKey] of [...session.foreignTargets]) {
    const target = await session.client.findFile(targetId, undefined, resourceKey);
    const inScope = target !== null && !target.trashed && (await session.scope.itemInScope(target));
    if (!target || !inScope) {
      session.foreignTargets.delete(targetId);
      changes.push({ kind: 'delete', sourceId: targetId });
      continue;
    }
    changes.push(mapDriveFile({ ...target, ...(resourceKey ? { resourceKey } : {}) }, session.config.exportFormats));
  }
  return changes;
}
