import type { Readable } from 'node:stream';
import { isNotFound, SourceProtocolError } from '../../errors.js';
import type { SourceHttp } from '../../http/source-http.js';
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
}

export interface ChangeListing {
  changes: DriveChange[];
  nextPageToken?: string;
  newStartPageToken?: string;
}

/** A Drive query literal: ids never hold quotes, but a config value might. */
const quoted = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export class DriveClient {
  constructor(
    private readonly http: SourceHttp,
    private readonly baseUrl: string,
  ) {}

  private url(path: string): string {
    return `${this.baseUrl}/drive/v3${path}`;
  }

  async getFile(fileId: string, fields: string = FILE_FIELDS): Promise<DriveFile> {
    const { data } = await this.http.json(this.url(`/files/${encodeURIComponent(fileId)}`), {
      query: { fields, supportsAllDrives: true },
    });
    return parseDriveAnswer(driveFileSchema, data, `files.get ${fileId}`);
  }

  /** The file, or null when Drive says 404 (deleted, or not visible to this identity). */
  async findFile(fileId: string, fields: string = FILE_FIELDS): Promise<DriveFile | null> {
    try {
      return await this.getFile(fileId, fields);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** One page of a folder's direct children (Drive's `in parents` is one level deep). */
  async listChildren(folder: { folderId: string; driveId?: string | undefined }, pageToken?: string): Promise<FolderListing> {
    const { data } = await this.http.json(this.url('/files'), {
      query: {
        q: `${quoted(folder.folderId)} in parents and trashed=false`,
        fields: `nextPageToken,files(${FILE_FIELDS})`,
        pageSize: PAGE_SIZE,
        pageToken,
        ...ALL_DRIVES,
        ...(folder.driveId ? { corpora: 'drive', driveId: folder.driveId } : {}),
      },
    });
    return parseDriveAnswer(fileListSchema, data, 'files.list');
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
        fields: `nextPageToken,newStartPageToken,changes(fileId,removed,file(${FILE_FIELDS}))`,
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

  download(fileId: string): Promise<{ body: Readable; headers: Headers }> {
    return this.http.stream(this.url(`/files/${encodeURIComponent(fileId)}`), { query: { alt: 'media', supportsAllDrives: true } });
  }

  /** files.export: capped at 10 MB by Google (403 exportSizeLimitExceeded). */
  export(fileId: string, mimeType: string): Promise<{ body: Readable; headers: Headers }> {
    return this.http.stream(this.url(`/files/${encodeURIComponent(fileId)}/export`), { query: { mimeType } });
  }

  /** A file's `exportLinks[mime]`, fetched with the same bearer token; no 10 MB cap. */
  exportLink(url: string): Promise<{ body: Readable; headers: Headers }> {
    return this.http.stream(url);
  }
}
