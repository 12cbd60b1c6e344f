import { CursorExpiredError, isNotFound, PermanentSourceError, SourceProtocolError } from '../../../errors.js';
import type { ChangePage } from '../../types.js';
import type { GraphClient } from '../client.js';
import { DRIVE_ITEM_FIELDS, type DriveItemPage, readDriveItemPage } from './api.js';
import { scopeKey } from './config.js';
import type { OneDriveCursor } from './cursor.js';
import { locateSyncRoot } from './drive.js';
import { relistStep } from './relist.js';
import { changesForDeltaPage } from './scope.js';
import type { OneDriveSession } from './session.js';

/**
 * One page of a drive's changes: a delta page, or a page of a moved folder's
 * subtree when one is waiting (see relist.ts).
 */

/** Where a full enumeration starts: the drive-root delta without a token, and a fresh folder tree. */
async function startEnumeration(session: OneDriveSession): Promise<OneDriveCursor> {
  const { graph, config } = session;
  const { driveId, scopeRoot } = await locateSyncRoot(session);
  await session.folders.clear();
  if (scopeRoot) await session.folders.put([{ folderId: scopeRoot.id, parentId: scopeRoot.parentId, inScope: true }]);
  return {
    v: 1,
    driveId,
    scope: scopeKey(config),
    scopeRootId: scopeRoot?.id ?? null,
    link: `${graph.baseUrl}/drives/${encodeURIComponent(driveId)}/root/delta?$select=${DRIVE_ITEM_FIELDS}&$top=${config.pageSize}`,
    caughtUp: false,
    enumerating: true,
  };
}

/**
 * A delta token Graph refuses arrives as CursorExpiredError (decided by the
 * Graph classifier) and goes up as it is: Location may offer a restart link, but
 * only a full enumeration proves what was deleted meanwhile.
 */
async function fetchDeltaPage(graph: GraphClient, link: string, signal?: AbortSignal): Promise<DriveItemPage> {
  try {
    const { data } = await graph.http.json(link, { signal });
    return readDriveItemPage(data, 'GET delta');
  } catch (e) {
    if (isNotFound(e)) {
      throw new PermanentSourceError('the drive no longer exists or is no longer shared with this connector', 'driveNotFound', 'sync', { cause: e });
    }
    throw e;
  }
}

export async function listDriveChanges(session: OneDriveSession, cursor: OneDriveCursor | null): Promise<ChangePage<OneDriveCursor>> {
  if (cursor && cursor.scope !== scopeKey(session.config)) {
    throw new CursorExpiredError('the connector now names another drive or folder: enumerating it afresh', 'scopeChanged');
  }
  const from = cursor ?? (await startEnumeration(session));

  if (from.relist?.length) {
    const { changes, remaining } = await relistStep(session, from.driveId, from.relist);
    const { relist: _done, ...rest } = from;
    const next: OneDriveCursor = remaining.length > 0 ? { ...rest, relist: remaining } : rest;
    return { changes, cursor: next, hasMore: remaining.length > 0 || !from.caughtUp, fullEnumeration: false };
  }

  const page = await fetchDeltaPage(session.graph, from.link, session.signal);
  const deltaLink = page['@odata.deltaLink'];
  const link = deltaLink ?? page['@odata.nextLink'];
  if (link === undefined) throw new SourceProtocolError('GET delta answered a page with neither @odata.nextLink nor @odata.deltaLink');
  const { changes, relist } = await changesForDeltaPage(session.folders, page.value, from);
  const caughtUp = deltaLink !== undefined;
  const next: OneDriveCursor = {
    ...from,
    link,
    caughtUp,
    enumerating: from.enumerating && !caughtUp,
    ...(relist.length > 0 ? { relist } : {}),
  };
  return {
    changes,
    cursor: next,
    hasMore: !caughtUp || relist.length > 0,
    fullEnumeration: from.enumerating,
    enumerationComplete: from.enumerating && caughtUp,
  };
}
