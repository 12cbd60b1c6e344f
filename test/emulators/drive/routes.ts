import { listChanges, startPageToken } from './change-log.js';
import { applyFields, parseFields } from './fields.js';
import { googleError } from './faults.js';
import { parseQuery } from './query.js';
import { DEFAULT_FIELDS, renderFile } from './render.js';
import type { DriveStore, StoredFile } from './store.js';

/** Drive v3 endpoints, answered from the store for one authenticated identity. */

export interface DriveRequest {
  method: string;
  pathname: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  identity: string;
}

export type DriveReply = { status: number; headers?: Record<string, string>; body?: unknown };

export class DriveCounters {
  /** Requests per `METHOD /path`. */
  readonly requests = new Map<string, number>();
  /** Successful `alt=media` downloads per file. */
  readonly downloads = new Map<string, number>();
  /** Successful files.export calls per file. */
  readonly exports = new Map<string, number>();
  /** Successful exportLinks downloads per file. */
  readonly exportLinkDownloads = new Map<string, number>();

  bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  reset(): void {
    for (const map of [this.requests, this.downloads, this.exports, this.exportLinkDownloads]) map.clear();
  }
}

export const EXPORT_SIZE_LIMIT = 10 * 1024 * 1024;

export const notFound = (id: string): DriveReply => googleError(404, 'notFound', `File not found: ${id}.`, { location: 'fileId', locationType: 'parameter' });
export const badRequest = (message: string, location?: string): DriveReply =>
  googleError(400, location === 'pageToken' ? 'invalid' : 'badRequest', message, location ? { location, locationType: 'parameter' } : {});
export const flag = (query: URLSearchParams, name: string): boolean => query.get(name) === 'true';

/** The answer trimmed to the `fields` mask, as Drive answers. */
export function masked(value: unknown, fields: string | null, fallback: string): DriveReply {
  try {
    return { status: 200, body: applyFields(value, parseFields(fields ?? fallback)) };
  } catch {
    return badRequest(`Invalid field selection ${fields ?? ''}`, 'fields');
  }
}

export const isMember = (store: DriveStore, identity: string, driveId: string): boolean => store.drives.get(driveId)?.members.has(identity) ?? false;

/** `X-Goog-Drive-Resource-Keys: id/key,id/key` (https://developers.google.com/workspace/drive/api/guides/resource-keys). */
export function resourceKeysOf(req: Pick<DriveRequest, 'headers'>): Map<string, string> {
  const keys = new Map<string, string>();
  const raw = req.headers['x-goog-drive-resource-keys'];
  for (const pair of (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',')) {
    const slash = pair.indexOf('/');
    if (slash > 0) keys.set(pair.slice(0, slash).trim(), pair.slice(slash + 1).trim());
  }
  return keys;
}

/**
 * A shared drive scoped call (drives.get, corpora=drive, changes with driveId)
 * by someone who is not a member: 404 "Shared drive not found", even when some
 * of its folders are shared with them item by item (those are reached through
 * the user corpus and the user change log: about-changelogs; support 9310251).
 */
export const driveNotFound = (driveId: string): DriveReply => googleError(404, 'notFound', `Shared drive not found: ${driveId}`);

export class DriveRoutes {
  /** Largest page the emulator hands out, whatever pageSize asks (tests force paging with it). */
  maxPageSize = 1000;
  /**
   * The next N `corpora=allDrives` listings answer `incompleteSearch: true` and leave out their
   * last file: "some search results may be missing, since all documents were not searched. This
   * may occur when searching multiple drives with the allDrives corpora" (FileList,
   * https://developers.google.com/workspace/drive/api/reference/rest/v3/files/list).
   */
  incompleteSearches = 0;

  constructor(
    private readonly store: DriveStore,
    private readonly counters: DriveCounters,
    private readonly baseUrl: () => string,
  ) {}

  handle(req: DriveRequest): DriveReply {
    const { pathname } = req;
    let m: RegExpExecArray | null;
    if (pathname === '/drive/v3/files') return this.listFiles(req);
    if (pathname === '/drive/v3/changes/startPageToken') return startPageToken(this.store, req);
    if (pathname === '/drive/v3/changes') return listChanges(this.store, req, this.pageSize(req.query, 100, 1000), this.baseUrl());
    if (pathname === '/drive/v3/drives') return this.listDrives(req);
    if ((m = /^\/drive\/v3\/drives\/([^/]+)$/.exec(pathname))) return this.getDrive(req, decodeURIComponent(m[1] ?? ''));
    if ((m = /^\/drive\/v3\/files\/([^/]+)\/export$/.exec(pathname))) return this.exportFile(req, decodeURIComponent(m[1] ?? ''));
    if ((m = /^\/drive\/v3\/files\/([^/]+)$/.exec(pathname))) return this.getFile(req, decodeURIComponent(m[1] ?? ''));
    if (pathname === '/feeds/download/export') return this.exportLink(req);
    return googleError(404, 'notFound', `no emulated endpoint ${req.method} ${pathname}`);
  }

  pageSize(query: URLSearchParams, fallback: number, max: number): number {
    const asked = Number(query.get('pageSize') ?? fallback);
    return Math.max(1, Math.min(Number.isFinite(asked) ? asked : fallback, max, this.maxPageSize));
  }

  /** The file, when this identity may see it through this request. */
  private visible(req: DriveRequest, id: string): StoredFile | undefined {
    const fileId = id === 'root' ? this.store.users.get(req.identity)?.rootId : id;
    const file = fileId ? this.store.files.get(fileId) : undefined;
    // Link-shared items need their own key when the identity has no direct access (resource-keys guide: "may result in a 404").
    if (!file || !(this.store.canSee(req.identity, file) || this.store.canSeeByLink(file, resourceKeysOf(req)))) return undefined;
    // Without supportsAllDrives, shared-drive items do not exist for a request (Drive's legacy default), except for
    // methods that take no such parameter: files.export takes only `mimeType`, and is not among the methods that
    // need supportsAllDrives=true (https://developers.google.com/workspace/drive/api/guides/enable-shareddrives).
    const takesNoFlag = req.pathname.startsWith('/feeds/') || req.pathname.endsWith('/export');
    if (file.driveId && !flag(req.query, 'supportsAllDrives') && !takesNoFlag) return undefined;
    return file;
  }

  private listFiles(req: DriveRequest): DriveReply {
    const { query } = req;
    const predicate = parseQuery(query.get('q') ?? '');
    if (!predicate) return badRequest('Invalid Value', 'q');
    const corpora = query.get('corpora') ?? 'user';
    const driveId = query.get('driveId');
    const allDrives = flag(query, 'supportsAllDrives') && flag(query, 'includeItemsFromAllDrives');
    if (driveId && (corpora !== 'drive' || !allDrives)) {
      return badRequest('The driveId parameter needs corpora=drive, supportsAllDrives=true and includeItemsFromAllDrives=true.', 'driveId');
    }
    if (corpora === 'drive' && !driveId) return badRequest('The driveId parameter is required with corpora=drive.', 'driveId');
    if (driveId && !isMember(this.store, req.identity, driveId)) return driveNotFound(driveId);
    const keys = resourceKeysOf(req);
    // `'<id>' in parents` naming a folder that is gone or not visible: 404 File not found, as for files.get
    // (what Drive answers is for a real tenant to settle; the source also checks an empty delete walk's folder).
    const parent = /^'((?:[^'\\]|\\.)*)'\s+in\s+parents/.exec(query.get('q') ?? '')?.[1]?.replace(/\\(.)/g, '$1');
    if (parent !== undefined) {
      const folder = this.store.files.get(parent);
      if (!folder || !(this.store.canSee(req.identity, folder) || this.store.canSeeByLink(folder, keys))) return notFound(parent);
    }
    const inCorpus = (f: StoredFile): boolean => {
      if (corpora === 'drive') return f.driveId === driveId;
      if (f.driveId) return allDrives && (corpora === 'allDrives' || corpora === 'user');
      return true;
    };
    const matching = [...this.store.files.values()]
      .filter((f) => f.parents.length > 0 && (this.store.canSee(req.identity, f) || this.store.canSeeByLink(f, keys)) && inCorpus(f) && predicate(f))
      .sort((a, b) => byNameThenId(a.name, a.id, b.name, b.id));

    // Keyset paging (after the last name+id handed out): files added mid-listing never shift a page.
    const listing = `${query.get('q') ?? ''}|${corpora}|${driveId ?? ''}`;
    let rest = matching;
    const token = query.get('pageToken');
    if (token) {
      const decoded = decodePageToken(token);
      if (!decoded || decoded.listing !== listing) return badRequest('Invalid Value', 'pageToken');
      const [name, id] = decoded.after;
      rest = matching.filter((f) => byNameThenId(f.name, f.id, name, id) > 0);
    }
    const size = this.pageSize(query, 100, 1000);
    const chunk = rest.slice(0, size);
    const last = chunk.at(-1);
    const incomplete = corpora === 'allDrives' && this.incompleteSearches > 0;
    if (incomplete) this.incompleteSearches -= 1;
    const body = {
      kind: 'drive#fileList',
      incompleteSearch: incomplete,
      files: (incomplete ? chunk.slice(0, -1) : chunk).map((f) => renderFile(this.store, f, this.baseUrl())),
      ...(rest.length > size && last ? { nextPageToken: encodePageToken({ listing, after: [last.name, last.id] }) } : {}),
    };
    return masked(body, query.get('fields'), DEFAULT_FIELDS.fileList);
  }

  private getFile(req: DriveRequest, id: string): DriveReply {
    const file = this.visible(req, id);
    if (!file) return notFound(id);
    if (req.query.get('alt') !== 'media') return masked(renderFile(this.store, file, this.baseUrl()), req.query.get('fields'), DEFAULT_FIELDS.file);
    if (file.downloadRestricted) return cannotDownload();
    if (!file.content) {
      return googleError(403, 'fileNotDownloadable', 'Only files with binary content can be downloaded. Use Export with Docs Editors files.');
    }
    this.counters.bump(this.counters.downloads, file.id);
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
    const type = { 'content-type': file.mimeType };
    if (!range) return { status: 200, headers: type, body: file.content };
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), file.content.length - 1) : file.content.length - 1;
    if (start > end) return { status: 416, headers: { 'content-range': `bytes */${file.content.length}` } };
    return {
      status: 206,
      headers: { ...type, 'content-range': `bytes ${start}-${end}/${file.content.length}` },
      body: file.content.subarray(start, end + 1),
    };
  }

  private exportFile(req: DriveRequest, id: string): DriveReply {
    const file = this.visible(req, id);
    if (!file) return notFound(id);
    if (!file.exports) return googleError(403, 'fileNotExportable', 'Export only supports Docs Editors files.');
    if (file.downloadRestricted) return cannotDownload();
    const mime = req.query.get('mimeType');
    if (!mime) return badRequest('Required parameter: mimeType', 'mimeType');
    const bytes = file.exports.get(mime);
    if (!bytes) return badRequest('The requested conversion is not supported.', 'convertTo');
    if ((file.exportSize ?? bytes.length) > EXPORT_SIZE_LIMIT) {
      return googleError(403, 'exportSizeLimitExceeded', 'This file is too large to be exported.');
    }
    this.counters.bump(this.counters.exports, file.id);
    return { status: 200, headers: { 'content-type': mime }, body: bytes };
  }

  private exportLink(req: DriveRequest): DriveReply {
    const id = req.query.get('id') ?? '';
    const file = this.visible(req, id);
    const bytes = file?.exports?.get(req.query.get('mimeType') ?? '');
    if (!file || !bytes) return notFound(id);
    this.counters.bump(this.counters.exportLinkDownloads, file.id);
    return { status: 200, headers: { 'content-type': req.query.get('mimeType') ?? '' }, body: bytes };
  }

  private listDrives(req: DriveRequest): DriveReply {
    const drives = [...this.store.drives.values()].filter((d) => d.members.has(req.identity)).sort((a, b) => a.id.localeCompare(b.id));
    const offset = Number(req.query.get('pageToken') ?? 0);
    if (!Number.isInteger(offset) || offset < 0) return badRequest('Invalid Value', 'pageToken');
    const size = this.pageSize(req.query, 10, 100);
    const page = drives.slice(offset, offset + size).map((d) => ({ kind: 'drive#drive', id: d.id, name: d.name }));
    const body = { kind: 'drive#driveList', drives: page, ...(offset + size < drives.length ? { nextPageToken: String(offset + size) } : {}) };
    return masked(body, req.query.get('fields'), DEFAULT_FIELDS.driveList);
  }

  private getDrive(req: DriveRequest, id: string): DriveReply {
    const drive = this.store.drives.get(id);
    if (!drive || !drive.members.has(req.identity)) return driveNotFound(id);
    return masked({ kind: 'drive#drive', id: drive.id, name: drive.name }, req.query.get('fields'), DEFAULT_FIELDS.drive);
  }
}

/** A download-restricted file (files reference, downloadRestrictions; Drive's error reason `cannotDownloadFile`). */
const cannotDownload = (): DriveReply =>
  googleError(403, 'cannotDownloadFile', 'The user does not have sufficient permissions for this file: downloading it is restricted.');

function byNameThenId(aName: string, aId: string, bName: string, bId: string): number {
  if (aName !== bName) return aName < bName ? -1 : 1;
  return aId === bId ? 0 : aId < bId ? -1 : 1;
}

interface ListPosition {
  listing: string;
  after: [string, string];
}

function encodePageToken(value: ListPosition): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodePageToken(token: string): ListPosition | null {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString()) as { listing?: unknown; after?: unknown };
    const after = value.after;
    if (typeof value.listing !== 'string' || !Array.isArray(after) || typeof after[0] !== 'string' || typeof after[1] !== 'string') return null;
    return { listing: value.listing, after: [after[0], after[1]] };
  } catch {
    return null;
  }
}
