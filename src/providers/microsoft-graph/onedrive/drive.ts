import { isNotFound, PermanentSourceError, ScopeGoneError, SourceProtocolError } from '../../../errors.js';
import type { GraphClient } from '../client.js';
import { readDriveItem } from './api.js';
import type { DriveTarget, FolderScope } from './config.js';
import type { OneDriveSession } from './session.js';

/**
 * Finding what a connector syncs: the drive's id (once per full enumeration;
 * later pages carry it in the cursor) and the folder its scope starts at.
 */

export interface SyncRoot {
  driveId: string;
  /** Null when the whole drive is in scope. */
  scopeRoot: { id: string; parentId: string | null } | null;
}

const enc = encodeURIComponent;

/**
 * How to get a connector whose drive or folder is gone syncing again. The sync ends in `error` and
 * its documents stay indexed (a 404 may be a revoked permission or a moved site, and sweeping on it
 * would empty the index over one admin mistake); the pipeline adds how many are still indexed and
 * that deleting the connector removes them.
 */
export const SCOPE_GONE_REMEDY =
  'give this app access to it again, or point the connector at another drive, folder or library (its next sync then deletes what is no longer in scope)';

/**
 * A site's address: its composite id (`host,siteGuid,webGuid`) as one segment, or its path form
 * (`contoso.sharepoint.com:/sites/marketing:`, the colon at the end optional), which Graph reads
 * as `/sites/{hostname}:/{server-relative-path}:` (https://learn.microsoft.com/en-us/graph/api/site-getbypath).
 */
export function sitePath(siteId: string): string {
  const byPath = /^([^:/]+):(\/[^:]*?):?$/.exec(siteId);
  if (!byPath) return `/sites/${enc(siteId)}`;
  const [, host = '', path = ''] = byPath;
  const segments = path.split('/').filter((segment) => segment !== '');
  return `/sites/${enc(host)}:/${segments.map(enc).join('/')}:`;
}

/** Where Graph serves the drive, and what to tell the user when it has none there. */
function driveLocation(target: DriveTarget): { path: string; notFound: string } {
  const names = (key: string) => `connector config "${key}" names no drive Microsoft Graph knows (or one this app may not read)`;
  switch (target.kind) {
    case 'drive':
      return { path: `/drives/${enc(target.id)}`, notFound: names('drive_id') };
    case 'user':
      return { path: `/users/${enc(target.id)}/drive`, notFound: names('user_id / user_principal_name') };
    case 'site':
    case 'site-libraries':
      return { path: `${sitePath(target.id)}/drive`, notFound: names('site_id') };
    case 'me':
      return { path: '/me/drive', notFound: 'the signed-in Microsoft account has no OneDrive' };
  }
}

/** Runs a lookup whose 404 means the config names something that does not exist. */
async function lookup<T>(run: () => Promise<T>, notFound: string): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (isNotFound(e)) throw new ScopeGoneError(notFound, 'invalidConfig', SCOPE_GONE_REMEDY, { cause: e });
    throw e;
  }
}

/** Whether Graph still has the drive (a 404 on a delta link alone does not prove it gone). */
export async function driveExists(graph: GraphClient, driveId: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await graph.http.json(`${graph.baseUrl}/drives/${enc(driveId)}`, { query: { $select: 'id' }, signal });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

async function resolveFolder(graph: GraphClient, driveId: string, folder: NonNullable<FolderScope>, signal?: AbortSignal) {
  const drive = `${graph.baseUrl}/drives/${enc(driveId)}`;
  const url = folder.kind === 'id' ? `${drive}/items/${enc(folder.id)}` : `${drive}/root:/${folder.path.split('/').map(enc).join('/')}`;
  const key = folder.kind === 'id' ? 'folder_id' : 'folder_path';
  const { data } = await lookup(
    () => graph.http.json(url, { query: { $select: 'id,folder,root,parentReference' }, signal }),
    `connector config "${key}" names no item in the drive`,
  );
  const item = readDriveItem(data, `GET ${key}`);
  if (item.folder === undefined && item.root === undefined) throw new PermanentSourceError(`connector config "${key}" names a file, not a folder`, 'invalidConfig', 'sync');
  return item;
}

export async function locateSyncRoot({ graph, config, signal }: OneDriveSession): Promise<SyncRoot> {
  const { path, notFound } = driveLocation(config.target);
  const { data } = await lookup(() => graph.http.json<{ id?: unknown }>(`${graph.baseUrl}${path}`, { query: { $select: 'id' }, signal }), notFound);
  if (typeof data?.id !== 'string' || data.id === '') throw new SourceProtocolError(`GET ${path} answered no drive id`);
  const driveId = data.id;
  if (config.folder === null) return { driveId, scopeRoot: null };
  const folder = await resolveFolder(graph, driveId, config.folder, signal);
  // A scope at the drive root is the whole drive: no ancestry to track.
  if (folder.root !== undefined) return { driveId, scopeRoot: null };
  return { driveId, scopeRoot: { id: folder.id, parentId: folder.parentReference?.id ?? null } };
}
