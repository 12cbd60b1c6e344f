import { CursorExpiredError, isNotFound, isPermanent, isUnauthorized, ScopeGoneError, SourceProtocolError } from '../../../errors.js';
import type { ChangePage } from '../../types.js';
import type { GraphClient } from '../client.js';
import { DRIVE_ITEM_FIELDS, type DriveItem, type DriveItemPage, readDriveItem, readDriveItemPage } from './api.js';
import { scopeKey } from './config.js';
import type { OneDriveCursor } from './cursor.js';
import { driveExists, locateSyncRoot, SCOPE_GONE_REMEDY } from './drive.js';
import { lacksContentSignature } from './mapping.js';
import { adoptSavedQueue, relistStep, startRelist } from './relist.js';
import { changesForDeltaPage, type PageLookups } from './scope.js';
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
  await session.items.clear(scopeKey(config));
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
async function fetchDeltaPage(graph: GraphClient, from: OneDriveCursor, signal?: AbortSignal): Promise<DriveItemPage> {
  try {
    const { data } = await graph.http.json(from.link, { signal });
    return readDriveItemPage(data, 'GET delta');
  } catch (e) {
    if (isNotFound(e)) {
      // Delta answers 404 on drives that still exist (onedrive-api-docs#1476, #288): only the drive itself can say it is gone.
      if (await driveExists(graph, from.driveId, signal)) {
        throw new CursorExpiredError('Graph no longer finds the saved delta link although the drive exists: enumerating the drive again', 'deltaLinkNotFound', {
          cause: e,
        });
      }
      throw new ScopeGoneError('the drive no longer exists or is no longer shared with this connector', 'driveNotFound', SCOPE_GONE_REMEDY, { cause: e });
    }
    throw e;
  }
}

/** What a delta page needs beyond itself: the folder tree, the items' parents, and Graph for a parent nobody knows. */
function pageLookups(session: OneDriveSession, from: OneDriveCursor): PageLookups {
  const { graph, signal } = session;
  return {
    folders: session.folders,
    items: {
      record: (items) => session.items.record(from.scope, items),
      removeSubtrees: (ids) => session.items.removeSubtrees(from.scope, ids),
    },
    async parentOf(itemId) {
      const item = await getItem(graph, from.driveId, itemId, 'id,parentReference,root', signal);
      return item === null ? null : { parentId: item.parentReference?.id ?? null, isRoot: item.root !== undefined };
    },
  };
}

/** One driveItem by id, or null when it no longer exists. */
async function getItem(graph: GraphClient, driveId: string, itemId: string, fields: string, signal?: AbortSignal): Promise<DriveItem | null> {
  try {
    const url = `${graph.baseUrl}/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(itemId)}`;
    const { data } = await graph.http.json(url, { query: { $select: fields }, signal });
    return readDriveItem(data, 'GET item');
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/**
 * Files delta sent with neither a hash nor a cTag (Business delta omits cTag; a hash may be missing
 * until a first download, or for empty files) would be signed by eTag, which changes on a rename:
 * an item GET returns their cTag. Few files lack both, so a few requests.
 */
async function withContentSignatures(session: OneDriveSession, driveId: string, items: DriveItem[]): Promise<DriveItem[]> {
  const completed: DriveItem[] = [];
  for (const item of items) {
    if (!lacksContentSignature(item)) {
      completed.push(item);
      continue;
    }
    const fresh = await cTagLookup(session, driveId, item);
    completed.push(fresh?.cTag ? { ...item, cTag: fresh.cTag, file: fresh.file ?? item.file } : item);
  }
  return completed;
}

/**
 * The item GET that completes one file's signature. It is an optimisation (the file is still listed
 * and signed by eTag without it), so one forbidden or garbled item never fails the page: item-level
 * refusals and bad answers leave the file as delta listed it (signed by eTag: a rename then downloads
 * it again); transient failures still retry.
 */
async function cTagLookup(session: OneDriveSession, driveId: string, item: DriveItem): Promise<DriveItem | null> {
  try {
    return await getItem(session.graph, driveId, item.id, 'id,cTag,file', session.signal);
  } catch (e) {
    // A refusal of this one item (the classifier scopes a 403 off /content to the sync, as for a listing)
    // or a garbled answer; a rejected sign-in is still the sync's.
    if ((isPermanent(e) && !isUnauthorized(e)) || e instanceof SourceProtocolError) return null;
    throw e;
  }
}

export async function listDriveChanges(session: OneDriveSession, cursor: OneDriveCursor | null): Promise<ChangePage<OneDriveCursor>> {
  if (cursor && cursor.scope !== scopeKey(session.config)) {
    throw new CursorExpiredError('the connector now names another drive or folder: enumerating it afresh', 'scopeChanged');
  }
  const from = cursor ?? (await startEnumeration(session));

  if (from.relist !== undefined) {
    const at = Array.isArray(from.relist) ? await adoptSavedQueue(session, from.scope, from.relist) : from.relist;
    const { changes, relist } = await relistStep(session, from, at);
    const { relist: _done, ...rest } = from;
    const next: OneDriveCursor = relist ? { ...rest, relist } : rest;
    return { changes, cursor: next, hasMore: relist !== undefined || !from.caughtUp, fullEnumeration: false };
  }

  const page = await fetchDeltaPage(session.graph, from, session.signal);
  const deltaLink = page['@odata.deltaLink'];
  const link = deltaLink ?? page['@odata.nextLink'];
  if (link === undefined) throw new SourceProtocolError('GET delta answered a page with neither @odata.nextLink nor @odata.deltaLink');
  const items = await withContentSignatures(session, from.driveId, page.value);
  const view = session.scopeRoots ? { ...from, scopeRoots: session.scopeRoots } : from;
  const { changes, relist } = await changesForDeltaPage(pageLookups(session, from), items, view);
  const caughtUp = deltaLink !== undefined;
  const next: OneDriveCursor = {
    ...from,
    link,
    caughtUp,
    enumerating: from.enumerating && !caughtUp,
    // A cursor saved before this was kept starts its period now.
    enumeratedAt: from.enumerating && caughtUp ? new Date().toISOString() : (from.enumeratedAt ?? new Date().toISOString()),
    ...(relist.length > 0 ? { relist: await startRelist(session, from.scope, relist) } : {}),
  };
  return {
    changes,
    cursor: next,
    hasMore: !caughtUp || relist.length > 0,
    fullEnumeration: from.enumerating,
    enumerationComplete: from.enumerating && caughtUp,
  };
}
