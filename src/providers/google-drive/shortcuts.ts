import type { SourceChange } from '../types.js';
import type { FolderTask } from './cursor.js';
import type { DriveFile } from './api.js';
import { isFolder, isShortcut, mapDriveFile } from './mapping.js';
import { shortcutKey, targetKey } from './scope.js';
import type { DriveSession } from './session.js';

/**
 * A shortcut is reported as its target, under the target's own id: a file
 * reached through a shortcut and directly is stored once. A shortcut to a
 * folder brings that folder's subtree into scope (once: the folder tree doubles
 * as the guard against shortcut cycles).
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
  const target = await session.client.findFile(targetId);
  if (!target || target.trashed) return [dangling];
  if (isShortcut(target)) return [{ ...dangling, reason: 'shortcut to a shortcut' }];

  await session.folders.put([
    { folderId: shortcutKey(shortcut.id), parentId: target.id, inScope: true },
    ...(holdingFolderId ? [{ folderId: targetKey(target.id), parentId: holdingFolderId, inScope: true }] : []),
  ]);
  if (isFolder(target)) {
    const known = await session.folders.get(target.id);
    if (known?.inScope) return []; // already in scope, crawled or queued
    await session.folders.put([{ folderId: target.id, parentId: holdingFolderId ?? null, inScope: true }]);
    tasks.push({ folderId: target.id, ...(target.driveId ? { driveId: target.driveId } : {}), mode: 'upsert' });
    return [];
  }
  return [mapDriveFile(target, session.config.exportFormats)];
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
  const target = await session.client.findFile(targetId, 'id,mimeType,parents,driveId,trashed');
  if (!target || target.trashed) return [{ kind: 'delete', sourceId: targetId }];
  if (await session.scope.parentsInScope(target.parents ?? [])) return [];
  if (!isFolder(target)) return [{ kind: 'delete', sourceId: targetId }];
  const known = await session.folders.get(targetId);
  if (known?.inScope) {
    await session.folders.put([{ folderId: targetId, parentId: target.parents?.[0] ?? null, inScope: false }]);
    tasks.push({ folderId: targetId, ...(target.driveId ? { driveId: target.driveId } : {}), mode: 'delete' });
  }
  return [];
}
