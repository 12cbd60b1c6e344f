import { randomUUID } from 'node:crypto';
import { isNotFound } from '../../../errors.js';
import type { RelistTaskRecord, SourceChange } from '../../types.js';
import { DRIVE_ITEM_FIELDS, isContainer, PAGE_SIZE, readDriveItemPage } from './api.js';
import type { OneDriveCursor, RelistPosition, SavedRelistTask } from './cursor.js';
import { fileChange } from './mapping.js';
import type { OneDriveSession } from './session.js';

/**
 * Lists, one `/children` page per call, the subtree of a folder that crossed the
 * scope boundary, or came back from the recycle bin: its files are reported (moved
 * in, restored) or deleted (moved out), its subfolders queued in turn; each
 * folder's new scope is stored when its listing starts.
 *
 * The queue is rows of `connector_sync.relist_tasks` (ItemParents.relists); the
 * cursor, saved with each page and carried in the workflow history, holds only the
 * queue's id and position, however large the moved tree. Rows are written before
 * the cursor that names them is committed, and every write is safe to repeat: a
 * page listed again after a crash (from the last committed cursor) writes the same
 * positions, or starts another queue. Rows before the committed position are done
 * and dropped at the next step.
 */

export interface RelistStep {
  changes: SourceChange[];
  /** Where the queue stands after this page; undefined once it is empty. */
  relist: RelistPosition | undefined;
}

/** Starts a queue with these folders (a delta page's); the cursor carries the position answered. */
export async function startRelist(session: OneDriveSession, scope: string, tasks: RelistTaskRecord[]): Promise<RelistPosition> {
  const queue = randomUUID();
  // The committed cursor names no queue: what the scope still holds is done, or was never committed.
  await session.items.relists.prune(scope, null);
  await session.items.relists.append(scope, queue, 0, tasks);
  return { queue, next: 0, end: tasks.length };
}

/**
 * Adds a folder to a drive cursor's queue from outside its own pages (a Teams channel's files folder
 * found in a drive whose delta is under way). Safe to repeat from the same committed cursor: the task
 * goes to the same position (or starts another queue).
 */
export async function queueRelist(session: OneDriveSession, cursor: OneDriveCursor, task: RelistTaskRecord): Promise<OneDriveCursor> {
  const { relist } = cursor;
  if (Array.isArray(relist)) return { ...cursor, relist: [...relist, task] };
  if (relist === undefined) return { ...cursor, relist: await startRelist(session, cursor.scope, [task]) };
  await session.items.relists.append(cursor.scope, relist.queue, relist.end, [task]);
  return { ...cursor, relist: { ...relist, end: relist.end + 1 } };
}

/** A cursor saved by an earlier version carries its queue: it moves to the database, the current folder's next page kept. */
export async function adoptSavedQueue(session: OneDriveSession, scope: string, tasks: readonly SavedRelistTask[]): Promise<RelistPosition> {
  const position = await startRelist(
    session,
    scope,
    tasks.map(({ folderId, parentId, inScope }) => ({ folderId, parentId, inScope })),
  );
  const link = tasks[0]?.link;
  return link === undefined ? position : { ...position, link };
}

export async function relistStep(session: OneDriveSession, listing: { driveId: string; scope: string }, at: RelistPosition): Promise<RelistStep> {
  const { driveId, scope } = listing;
  const { graph } = session;
  const queue = session.items.relists;
  await queue.prune(scope, { queueId: at.queue, before: at.next });
  const task = await queue.head(scope, at.queue, at.next);
  if (!task) return { changes: [], relist: undefined };
  const done = (end: number): RelistPosition | undefined => (task.seq + 1 < end ? { queue: at.queue, next: task.seq + 1, end } : undefined);
  if (at.link === undefined) {
    await session.folders.put([{ folderId: task.folderId, parentId: task.parentId, inScope: task.inScope }]);
    await session.items.revive(scope, [task.folderId]);
  }

  const url =
    at.link ??
    `${graph.baseUrl}/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(task.folderId)}/children?$select=${DRIVE_ITEM_FIELDS}&$top=${PAGE_SIZE}`;
  let data: unknown;
  try {
    ({ data } = await graph.http.json(url, { signal: session.signal }));
  } catch (e) {
    // Gone since the delta page that moved it: the delta pages still to come carry its deletion.
    if (isNotFound(e)) return { changes: [], relist: done(at.end) };
    throw e;
  }
  const page = readDriveItemPage(data, 'GET children');

  const subfolders = new Map<string, RelistTaskRecord>();
  const changes: SourceChange[] = [];
  for (const item of page.value) {
    if (item.deleted) continue;
    if (isContainer(item)) subfolders.set(item.id, { folderId: item.id, parentId: task.folderId, inScope: task.inScope });
    else changes.push(task.inScope ? fileChange(item, driveId) : { kind: 'delete', sourceId: item.id });
  }

  // What is listed inside the scope has its parent recorded, like a delta page's items (scope.ts).
  if (task.inScope) {
    await session.items.record(scope, page.value.filter((i) => !i.deleted).map((i) => ({ itemId: i.id, parentId: task.folderId, folder: isContainer(i) })));
  }
  // Queued after everything already queued (a folder in the queue already is left out).
  await queue.append(scope, at.queue, at.end, [...subfolders.values()]);
  const end = at.end + subfolders.size;

  const next = page['@odata.nextLink'];
  session.logger.debug({ folderId: task.folderId, inScope: task.inScope, files: changes.length, subfolders: subfolders.size }, 'listed a folder that crossed the sync scope');
  return { changes, relist: next ? { queue: at.queue, next: task.seq, end, link: next } : done(end) };
}
