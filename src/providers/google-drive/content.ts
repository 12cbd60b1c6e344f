import type { AnswerHeaders } from '../../http/source-http.js';
import { isPermanent, itemGoneIfNotFound, PermanentSourceError } from '../../errors.js';
import type { ItemContent, SourceItem } from '../types.js';
import { readDriveFetch, type DriveFetch } from './mapping.js';
import type { DriveSession } from './session.js';

/**
 * The bytes of one item: a download for binary files, an export for
 * Google-native ones. files.export stops at 10 MB; past that the file's
 * exportLinks URL serves the same export, with the same bearer token.
 */

const GOOGLE_HOSTS = /(^|\.)(google\.com|googleapis\.com|googleusercontent\.com)$/;

/** Our bearer token goes only to Google, or to the configured Drive API origin (an emulator in tests). */
function checkExportLink(link: string, apiOrigin: string): string {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw new PermanentSourceError('the export link Google Drive gave is not a URL', 'untrustedExportLink', 'item');
  }
  if (url.origin === apiOrigin || (url.protocol === 'https:' && GOOGLE_HOSTS.test(url.hostname))) return link;
  throw new PermanentSourceError(`not sending our Google token to ${url.host} (an export link outside Google)`, 'untrustedExportLink', 'item');
}

function toContent(response: { body: ItemContent['body']; headers: AnswerHeaders }, declared?: string): ItemContent {
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  const contentType = declared ?? response.headers.get('content-type') ?? undefined;
  return {
    body: response.body,
    ...(contentType ? { contentType } : {}),
    ...(Number.isFinite(length) && length >= 0 ? { size: length } : {}),
  };
}

async function openExport(session: DriveSession, fetch: DriveFetch & { export: string }): Promise<ItemContent> {
  const { fileId, export: mime, resourceKey } = fetch;
  try {
    return toContent(await session.client.export(fileId, mime, resourceKey), mime);
  } catch (e) {
    if (!isPermanent(e) || e.code !== 'exportSizeLimitExceeded') throw e;
    const link = fetch.exportLink ?? (await session.client.getFile(fileId, 'id,exportLinks', resourceKey)).exportLinks?.[mime];
    if (!link) throw e;
    session.logger.info({ fileId }, 'Google Drive: export over 10 MB, fetching it through its export link');
    return toContent(await session.client.exportLink(checkExportLink(link, session.apiOrigin), { id: fileId, resourceKey }), mime);
  }
}

export async function openDriveContent(session: DriveSession, item: SourceItem): Promise<ItemContent> {
  const fetch = readDriveFetch(item.fetch);
  if (!fetch) throw new PermanentSourceError(`"${item.name}" has no Google Drive file id to fetch`, 'invalidFetch', 'item');
  try {
    if (fetch.export) return await openExport(session, { ...fetch, export: fetch.export });
    return toContent(await session.client.download(fetch.fileId, fetch.resourceKey));
  } catch (e) {
    throw itemGoneIfNotFound(e, `"${item.name}" is no longer in Google Drive (or no longer visible to this identity)`);
  }
}
