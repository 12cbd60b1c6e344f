import { DEFAULT_FIELDS, renderFile } from './render.js';
import { badRequest, driveNotFound, flag, isMember, masked, type DriveReply, type DriveRequest } from './routes.js';
import type { ChangeEntry, DriveStore } from './store.js';

/**
 * changes.getStartPageToken and changes.list: a page token is a sequence number
 * in the store's log; a log is the identity's own or one shared drive's (driveId).
 *
 * The user log carries the identity's My Drive, items shared with it directly
 * that it does not reach as a member (another user's My Drive items; shared-drive
 * items of drives it is not a member of), and `changeType: drive` entries. It
 * does NOT carry the changes of shared drives it is a member of: "Each shared
 * drive has its own change log … certain changes are only reflected in the
 * shared drive change log and never in the user's change log"
 * (https://developers.google.com/workspace/drive/api/guides/about-changes); the
 * worst plausible reading is that none of them are.
 */

export function startPageToken(store: DriveStore, req: DriveRequest): DriveReply {
  const driveId = req.query.get('driveId');
  if (driveId && !flag(req.query, 'supportsAllDrives')) return badRequest('driveId needs supportsAllDrives=true', 'driveId');
  if (driveId && !isMember(store, req.identity, driveId)) return driveNotFound(driveId);
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
  if (driveId && !isMember(store, identity, driveId)) return driveNotFound(driveId);
  const inLog = (entry: ChangeEntry): boolean => {
    if (driveId) return entry.type === 'file' && entry.corpus === `drive:${driveId}`;
    if (entry.type === 'drive') return allDrives && entry.alsoTo.includes(identity);
    if (entry.corpus === `user:${identity}`) return true;
    return (allDrives || !entry.corpus.startsWith('drive:')) && entry.alsoTo.includes(identity);
  };
  // One entry per file (or drive): its latest change in the window, as Drive reports.
  const latest = new Map<string, ChangeEntry>();
  for (const entry of store.log) {
    if (entry.seq < from || !inLog(entry)) continue;
    const key = `${entry.type}:${entry.fileId}`;
    latest.delete(key);
    latest.set(key, entry);
  }
  const entries = [...latest.values()];
  const page = entries.slice(0, size);
  const changes = page.map((entry) => {
    if (entry.type === 'drive') {
      const drive = store.drives.get(entry.fileId);
      const member = drive?.members.has(identity) ?? false;
      return {
        kind: 'drive#change',
        changeType: 'drive',
        time: new Date().toISOString(),
        driveId: entry.fileId,
        removed: !member,
        ...(drive && member ? { drive: { kind: 'drive#drive', id: drive.id, name: drive.name } } : {}),
      };
    }
    const file = store.files.get(entry.fileId);
    const visible = file !== undefined && store.canSee(identity, file);
    const removed = entry.leftCorpus || !visible;
    // includeCorpusRemovals: "include the file resource if the file is still accessible by the user at the time of
    // the request, even when a file was removed from the list of changes"
    // (https://developers.google.com/workspace/drive/api/reference/rest/v3/changes/list).
    const withFile = visible && (!removed || flag(query, 'includeCorpusRemovals'));
    return {
      kind: 'drive#change',
      changeType: 'file',
      time: file?.modifiedTime ?? new Date().toISOString(),
      fileId: entry.fileId,
      removed,
      ...(withFile ? { file: renderFile(store, file, baseUrl) } : {}),
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
