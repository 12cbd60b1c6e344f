import { DownloadRefusedError, isDownloadRefused, itemGoneIfNotFound, PermanentSourceError } from '../../../errors.js';
import type { ItemContent, SourceItem } from '../../types.js';
import type { DriveItemRef } from './mapping.js';
import type { OneDriveSession } from './session.js';

function readRef(item: SourceItem): DriveItemRef {
  const { driveId, itemId } = item.fetch;
  if (typeof driveId !== 'string' || driveId === '' || typeof itemId !== 'string' || itemId === '') {
    throw new PermanentSourceError(`item ${item.sourceId} carries no OneDrive drive and item id to fetch it by`, 'invalidFetch', 'item');
  }
  return { driveId, itemId };
}

/**
 * Streams one file's bytes. Graph answers `/content` with a redirect to a
 * short-lived pre-authenticated URL; the HTTP layer follows it without our
 * bearer token. When that URL refuses (401/403 from SharePoint's download.aspx),
 * a fresh `/content` mints another once; a second refusal fails this file
 * alone, with a message that says the link refused, not our sign-in.
 */
export async function openDriveItemContent(session: Pick<OneDriveSession, 'graph' | 'signal'>, item: SourceItem): Promise<ItemContent> {
  try {
    return await openOnce(session, item);
  } catch (e) {
    if (!isDownloadRefused(e)) throw e;
  }
  try {
    return await openOnce(session, item);
  } catch (e) {
    if (!isDownloadRefused(e)) throw e;
    throw new DownloadRefusedError(
      `the download link Microsoft gave for ${item.name} refused it twice (${e.message}); the file is retried on a later sync, the connector's sign-in is fine`,
      { cause: e, status: e.status, url: e.url },
    );
  }
}

async function openOnce({ graph, signal }: Pick<OneDriveSession, 'graph' | 'signal'>, item: SourceItem): Promise<ItemContent> {
  const { driveId, itemId } = readRef(item);
  const url = `${graph.baseUrl}/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(itemId)}/content`;
  try {
    const { body, headers } = await graph.http.stream(url, { signal });
    const length = headers.get('content-length');
    return {
      body,
      contentType: headers.get('content-type') ?? undefined,
      size: length !== null && /^\d+$/.test(length) ? Number(length) : undefined,
    };
  } catch (e) {
    // Deleted since it was listed: the next delta page reports its deletion.
    throw itemGoneIfNotFound(e, `item ${item.sourceId} no longer exists in the drive`);
  }
}
