import { isNotFound } from '../../../errors.js';
import type { SourceChange } from '../../types.js';
import { DRIVE_ITEM_FIELDS, isContainer, PAGE_SIZE, readDriveItemPage } from './api.js';
import type { RelistTask } from './cursor.js';
import { fileChange } from './mapping.js';
import type { OneDriveSession } from './session.js';

/**
 * Lists, one `/children` page per call, the subtree of a folder that crossed the
 * scope boundary, or came back from the recycle bin: its files are reported (moved in, restored) or deleted (moved out), its
 * subfolders queued in turn, depth first; each folder's new scope is stored when
 * its listing starts. The
 * queue lives in the cursor, so a large subtree spreads over pages like any
 * other listing.
 */

export interface RelistStep {
  changes: SourceChange[];
  /** What is left to list, the current folder first when it has more pages. */
  remaining: RelistTask[];
}

export async function relistStep(session: OneDriveSession, listing: { driveId: string; scope: string }, queue: readonly RelistTask[]): Promise<RelistStep> {
  const { driveId } = listing;
  const { graph } = session;
  const [task, ...rest] = queue;
  if (!task) return { changes: [], remaining: [] };
  if (task.link === undefined) {
    await session.folders.put([{ folderId: task.folderId, parentId: task.parentId, inScope: task.inScope }]);
    await session.items.revive(listing.scope, [task.folderId]);
  }

  const url =
    task.link ??
    `${graph.baseUrl}/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(task.folderId)}/children?$select=${DRIVE_ITEM_FIELDS}&$top=${PAGE_SIZE}`;
  let data: unknown;
  try {
    ({ data } = await graph.http.json(url, { signal: session.signal }));
  } catch (e) {
    // Gone since the delta page that moved it: the delta pages still to come carry its deletion.
    if (isNotFound(e)) return { changes: [], remaining: rest };
    throw e;
  }
  const page = readDriveItemPage(data, 'GET children');

  const queued = new Set(queue.map((t) => t.folderId));
  const subfolders: RelistTask[] = [];
  const changes: SourceChange[] = [];
  for (const item of page.value) {
    if (item.deleted) continue;
    if (isContainer(item)) {
      if (!queued.has(item.id)) subfolders.push({ folderId: item.id, parentId: task.folderId, inScope: task.inScope });
      queued.add(item.id);
    } else {
      changes.push(task.inScope ? fileChange(item, driveId) : { kind: 'delete', sourceId: item.id });
    }
  }

  // What is listed inside the scope has its parent recorded, like a delta page's items (scope.ts).
  if (task.inScope) {
    await session.items.record(listing.scope, page.value.filter((i) => !i.deleted).map((i) => ({ itemId: i.id, parentId: task.folderId, folder: isContainer(i) })));
  }

  const next = page['@odata.nextLink'];
  session.logger.debug({ folderId: task.folderId, inScope: task.inScope, files: changes.length, subfolders: subfolders.length }, 'listed a folder that crossed the sync scope');
  return { changes, remaining: next ? [{ ...task, link: next }, ...subfolders, ...rest] : [...subfolders, ...rest] };
}
