import { googleError } from './faults.js';
import { DEFAULT_FIELDS, renderFile } from './render.js';
import { badRequest, flag, isMember, masked, type DriveReply, type DriveRequest } from './routes.js';
import type { ChangeEntry, DriveStore } from './store.js';

/**
 * changes.getStartPageToken and changes.list: a page token is a sequence number
 * in the store's log; a log is the identity's own (My Drive, plus member shared
 * drives with includeItemsFromAllDrives) or one shared drive's (driveId).
 */

export function startPageToken(store: DriveStore, req: DriveRequest): DriveReply {
  const driveId = req.query.get('driveId');
  if (driveId && !flag(req.query, 'supportsAllDrives')) return badRequest('driveId needs supportsAllDrives=true', 'driveId');
  if (driveId && !isMember(store, req.identity, driveId)) return googleError(404, 'notFound', `Shared drive not found: ${driveId}`);
  return { status: 200, body: { kind: 'drive#startPageToken', startPageToken: String(store.nextSeq) } };
}

export function listChanges(store: DriveStore, req: DriveRequest, size: number, baseUrl: string): DriveReply {
  const { query, identity } = req;
  const token = query.get('pageToken') ?? '';
  const from = Number(token);
  if (!/^\d+$/.test(token) || from < store.oldestValidToken || from > store.nextSeq) return badRequest('Invalid Value', 'pageToken');
  const driveId = query.get('driveId');
  const allDrives = flag(query, 'supportsAllDrives') && flag(query, 'includeItemsFromAllDrives');
  if (driveId && !allDrives) return badRequest('driveId needs supportsAllDrives=true and includeItemsFromAllDrives=true', 'driveId');
  if (driveId && !isMember(store, identity, driveId)) return googleError(404, 'notFound', `Shared drive not found: ${driveId}`);
  const inLog = (corpus: string): boolean => {
    if (driveId) return corpus === `drive:${driveId}`;
    if (corpus === `user:${identity}`) return true;
    return allDrives && corpus.startsWith('drive:') && isMember(store, identity, corpus.slice('drive:'.length));
  };
  // One entry per file: its latest change in the window, as Drive reports.
  const latest = new Map<string, ChangeEntry>();
  for (const entry of store.log) {
    if (entry.seq < from || !inLog(entry.corpus)) continue;
    latest.delete(entry.fileId);
    latest.set(entry.fileId, entry);
  }
  const entries = [...latest.values()];
  const page = entries.slice(0, size);
  const changes = page.map((entry) => {
    const file = store.files.get(entry.fileId);
    const removed = entry.leftCorpus || !file || !store.canSee(identity, file);
    return {
      kind: 'drive#change',
      changeType: 'file',
      time: file?.modifiedTime ?? new Date().toISOString(),
      fileId: entry.fileId,
      removed,
      ...(file && !removed ? { file: renderFile(store, file, baseUrl) } : {}),
      ...(entry.corpus.startsWith('drive:') ? { driveId: entry.corpus.slice('drive:'.length) } : {}),
    };
  });
  const last = page.at(-1);
  const body = {
    kind: 'drive#changeList',
    changes,
    ...(entries.length > size && last ? { nextPageToken: String(last.seq + 1) } : { newStartPageToken: String(store.nextSeq) }),
  };
  return masked(body, query.get('fields'), DEFAULT_FIELDS.changeList);
}
