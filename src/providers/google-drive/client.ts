import type { Readable } from 'node:stream';
import { isNotFound, SourceProtocolError } from '../../errors.js';
import type { AnswerHeaders, SourceHttp } from '../../http/source-http.js';
import {
  changeListSchema,
  driveFileSchema,
  driveListSchema,
  FILE_FIELDS,
  fileListSchema,
  parseDriveAnswer,
  type DriveChange,
  type DriveFile,
} from './api.js';

/**
 * Drive v3 calls this source makes, typed. Every request goes through the
 * shared SourceHttp (retries, throttling, token refresh); this class only knows
 * paths, parameters and answer shapes. A page token Drive rejects arrives as a
 * CursorExpiredError, decided by the classifier (errors.ts).
 */

/** Items per list page: one page is the unit of work of one listChanges call. */
export const PAGE_SIZE = 200;

const ALL_DRIVES = { supportsAllDrives: true, includeItemsFromAllDrives: true } as const;

export interface FolderListing {
  files: DriveFile[];
  nextPageToken?: string;
  /** The listing had to use the user corpus: the folder's next pages must too. */
  corpora?: 'user';
}

export interface ChangeListing {
  changes: DriveChange[];
  nextPageToken?: string;
  newStartPageToken?: string;
}

/**
 * Link-shared items need their resource key from whoever has no direct access
 * (https://developers.google.com/workspace/drive/api/guides/resource-keys).
 */
export interface KeyedId {
  id: string;
  resourceKey?: string | undefined;
}

const keyHeader = (...items: Array<KeyedId | undefined>): Record<string, string> | undefined => {
  const pairs = items.flatMap((item) => (item?.resourceKey ? [`${item.id}/${item.resourceKey}`] : []));
  return pairs.length > 0 ? { 'X-Goog-Drive-Resource-Keys': pairs.join(',') } : undefined;
};

/** A folder to list: `driveId` only for a shared drive the identity is a member of (corpora=drive answers 404 to others). */
export interface FolderRef {
  folderId: string;
  driveId?: string | undefined;
  resourceKey?: string | undefined;
  corpora?: 'user' | undefined;
}

/** A Drive query literal: ids never hold quotes, but a config value might. */
const quoted = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export class DriveClient {
  constructor(
    /** The shared HTTP layer, for Drive calls kept beside this class (push channels, watch.ts). */
    readonly http: SourceHttp,
    readonly baseUrl: string,
  ) {}

  private url(path: string): string {
    return `${this.baseUrl}/drive/v3${path}`;
  }

  async getFile(fileId: string, fields: string = FILE_FIELDS, resourceKey?: string): Promise<DriveFile> {
    const headers = keyHeader({ id: fileId, resourceKey });
    const { data } = await this.http.json(this.url(`/files/${encodeURIComponent(fileId)}`), {
      query: { fields, supportsAllDrives: true },
      ...(headers ? { headers } : {}),
    });
    return parseDriveAnswer(driveFileSchema, data, `files.get ${fileId}`);
  }

  /** The file, or null when Drive says 404 (deleted, or not visible to this identity). */
  async findFile(fileId: string, fields: string = FILE_FIELDS, resourceKey?: string): Promise<DriveFile | null> {
    try {
      return await this.getFile(fileId, fields, resourceKey);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /**
   * One page of a folder's direct children (Drive's `in parents` is one level
   * deep), or null when Drive answers 404: the folder is gone or no longer
   * visible. `withTrashed` lists what was trashed with the folder too (a delete
   * walk must see it: `trashed` is true for items in a trashed folder).
   */
  async listChildren(folder: FolderRef, pageToken?: string, options: { withTrashed?: boolean } = {}): Promise<FolderListing | null> {
    // A member's drive: its own corpus. Otherwise (My Drive, shared with me, a non-member's folder): allDrives, which
    // answers for anything the identity can see, unless an earlier page had to narrow it to the user's corpus.
    const corpus: Record<string, string> = folder.driveId
      ? { corpora: 'drive', driveId: folder.driveId }
      : { corpora: folder.corpora ?? 'allDrives' };
    const listing = await this.listChildrenIn(folder, corpus, pageToken, options);
    if (!listing?.incompleteSearch) return listing;
    // Google's advice for an incomplete allDrives search is to narrow the corpus; a page token belongs to its corpus,
    // so only a folder's first page can switch. A page that may miss files is never handed on: a crawl's sweep would
    // delete them.
    const narrowed = pageToken === undefined && corpus.corpora === 'allDrives' ? await this.listChildrenIn(folder, { corpora: 'user' }, undefined, options) : null;
    if (!narrowed || narrowed.incompleteSearch) {
      throw new SourceProtocolError(`Google Drive answered an incomplete listing of folder ${folder.folderId}; the page is listed again on the next attempt`);
    }
    return { ...narrowed, corpora: 'user' };
  }

  private async listChildrenIn(
    folder: FolderRef,
    corpus: Record<string, string>,
    pageToken: string | undefined,
    options: { withTrashed?: boolean },
  ): Promise<(FolderListing & { incompleteSearch?: boolean }) | null> {
    const headers = keyHeader({ id: folder.folderId, resourceKey: folder.resourceKey });
    try {
      const { data } = await this.http.json(this.url('/files'), {
        query: {
          q: `${quoted(folder.folderId)} in parents${options.withTrashed ? '' : ' and trashed=false'}`,
          fields: `nextPageToken,incompleteSearch,files(${FILE_FIELDS})`,
          pageSize: PAGE_SIZE,
          pageToken,
          ...ALL_DRIVES,
          ...corpus,
        },
        ...(headers ? { headers } : {}),
      });
      return parseDriveAnswer(fileListSchema, data, 'files.list');
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async startPageToken(driveId?: string): Promise<string> {
    const { data } = await this.http.json<{ startPageToken?: unknown }>(this.url('/changes/startPageToken'), {
      query: { supportsAllDrives: true, ...(driveId ? { driveId } : {}) },
    });
    if (typeof data.startPageToken !== 'string' || data.startPageToken === '') {
      throw new SourceProtocolError('Google Drive answered changes.getStartPageToken without a startPageToken');
    }
    return data.startPageToken;
  }

  async listChanges(pageToken: string, driveId?: string): Promise<ChangeListing> {
    const { data } = await this.http.json(this.url('/changes'), {
      query: {
        pageToken,
        pageSize: PAGE_SIZE,
        fields: `nextPageToken,newStartPageToken,changes(changeType,fileId,driveId,removed,file(${FILE_FIELDS}))`,
        // A removal still carries the file when the identity can still see it (moved to another corpus), so whether it
        // left for another drive we sync needs no files.get (about-changelogs recommends it for several logs).
        includeCorpusRemovals: true,
        ...ALL_DRIVES,
        ...(driveId ? { driveId } : {}),
      },
    });
    return parseDriveAnswer(changeListSchema, data, 'changes.list');
  }

  /** Every shared drive the identity is a member of (a few pages at most). */
  async listSharedDrives(): Promise<Array<{ id: string; name: string }>> {
    const drives: Array<{ id: string; name: string }> = [];
    let pageToken: string | undefined;
    do {
      const { data } = await this.http.json(this.url('/drives'), { query: { pageSize: 100, pageToken, fields: 'nextPageToken,drives(id,name)' } });
      const page = parseDriveAnswer(driveListSchema, data, 'drives.list');
      drives.push(...page.drives);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return drives;
  }

  /** The shared drive, or null when it does not exist or the identity is not a member. */
  async findSharedDrive(driveId: string): Promise<{ id: string; name: string } | null> {
    try {
      const { data } = await this.http.json<{ id?: unknown; name?: unknown }>(this.url(`/drives/${encodeURIComponent(driveId)}`), {
        query: { fields: 'id,name' },
      });
      return { id: typeof data.id === 'string' ? data.id : driveId, name: typeof data.name === 'string' ? data.name : '' };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  download(fileId: string, resourceKey?: string): Promise<{ body: Readable; headers: AnswerHeaders }> {
    const headers = keyHeader({ id: fileId, resourceKey });
    return this.http.stream(this.url(`/files/${encodeURIComponent(fileId)}`), {
      query: { alt: 'media', supportsAllDrives: true },
      ...(headers ? { headers } : {}),
    });
  }

  /** files.export: capped at 10 MB by Google (403 exportSizeLimitExceeded). */
  export(fileId: string, mimeType: string, resourceKey?: string): Promise<{ body: Readable; headers: AnswerHeaders }> {
    const headers = keyHeader({ id: fileId, resourceKey });
    return this.http.stream(this.url(`/files/${encodeURIComponent(fileId)}/export`), { query: { mimeType }, ...(headers ? { headers } : {}) });
  }

  /** A file's `exportLinks[mime]`, fetched with the same bearer token; no 10 MB cap. */
  exportLink(url: string, file?: KeyedId): Promise<{ body: Readable; headers: AnswerHeaders }> {
    const headers = keyHeader(file);
    return this.http.stream(url, headers ? { headers } : {});
  }
}
