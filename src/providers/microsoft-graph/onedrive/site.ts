import { CursorExpiredError, isNotFound, isPermanent, ScopeGoneError, SourceProtocolError } from '../../../errors.js';
import type { ChangePage } from '../../types.js';
import { listDriveChanges } from './changes.js';
import { scopeKey } from './config.js';
import type { SiteCursor } from './cursor.js';
import { SCOPE_GONE_REMEDY, sitePath } from './drive.js';
import type { OneDriveSession } from './session.js';

/**
 * A SharePoint site's document libraries (`GET /sites/{id}/drives`), all of them or those the
 * config names, synced one after the other by the drive code, each with its own drive cursor.
 * A pass lists every library once; the library list is read again at the start of each pass, so
 * a new library is listed from scratch, and a library that went away expires the cursor: the site
 * is enumerated again and the sweep deletes that library's documents.
 */

interface Library {
  driveId: string;
  name: string;
}

async function listLibraries(session: OneDriveSession, siteId: string, named: string[] | null): Promise<Library[]> {
  const { graph, signal } = session;
  const found: Library[] = [];
  let url: string | undefined = `${graph.baseUrl}${sitePath(siteId)}/drives?$select=id,name,driveType`;
  while (url) {
    let data: { value?: Array<{ id?: unknown; name?: unknown }>; '@odata.nextLink'?: unknown };
    try {
      ({ data } = await graph.http.json<typeof data>(url, { signal }));
    } catch (e) {
      if (isNotFound(e)) {
        throw new ScopeGoneError('connector config "site_id" names no site Microsoft Graph knows (or one this app may not read)', 'invalidConfig', SCOPE_GONE_REMEDY, { cause: e });
      }
      throw e;
    }
    if (!Array.isArray(data.value)) throw new SourceProtocolError('GET site drives answered no "value" list');
    for (const drive of data.value) {
      if (typeof drive.id === 'string' && drive.id !== '') found.push({ driveId: drive.id, name: typeof drive.name === 'string' ? drive.name : drive.id });
    }
    url = typeof data['@odata.nextLink'] === 'string' ? data['@odata.nextLink'] : undefined;
  }
  if (named === null) return found;
  const byName = new Map(found.map((l) => [l.name.toLowerCase(), l]));
  const missing = named.filter((name) => !byName.has(name.toLowerCase()));
  if (missing.length > 0) {
    // A library named here and deleted (or no longer shared) since is a scope gone like a drive.
    throw new ScopeGoneError(
      `connector config "libraries" names ${missing.map((n) => `"${n}"`).join(', ')}, which the site does not have (its libraries: ${found.map((l) => l.name).join(', ') || 'none'})`,
      'invalidConfig',
      SCOPE_GONE_REMEDY,
    );
  }
  return named.flatMap((name) => byName.get(name.toLowerCase()) ?? []);
}

/** The next pass: the library list read again; a library gone since expires the cursor. */
async function nextPass(session: OneDriveSession, siteId: string, named: string[] | null, from: SiteCursor): Promise<SiteCursor> {
  const libraries = await listLibraries(session, siteId, named);
  const now = new Set(libraries.map((l) => l.driveId));
  const gone = from.libraries.filter((l) => !now.has(l.driveId));
  if (gone.length > 0) {
    throw new CursorExpiredError(`the site no longer has the library ${gone.map((l) => `"${l.name}"`).join(', ')}: enumerating the site again`, 'libraryGone');
  }
  const known = new Map(from.libraries.map((l) => [l.driveId, l]));
  return { ...from, libraries: libraries.map((l) => ({ ...l, cursor: known.get(l.driveId)?.cursor ?? null })), at: 0, enumerating: false };
}

/** The drive code's view of one library: the same session, pointed at that drive. */
function librarySession(session: OneDriveSession, driveId: string): OneDriveSession {
  return { ...session, config: { ...session.config, target: { kind: 'drive', id: driveId }, folder: null } };
}

export async function listSiteChanges(session: OneDriveSession, cursor: SiteCursor | null): Promise<ChangePage<SiteCursor>> {
  const { target } = session.config;
  if (target.kind !== 'site-libraries') throw new Error('listSiteChanges needs a site-libraries target');
  const scope = scopeKey(session.config);
  if (cursor && cursor.scope !== scope) throw new CursorExpiredError('the connector now names another site or other libraries: enumerating it afresh', 'scopeChanged');

  let from: SiteCursor =
    cursor ?? { v: 1, scope, libraries: (await listLibraries(session, target.id, target.libraries)).map((l) => ({ ...l, cursor: null })), at: 0, enumerating: true };
  if (from.libraries.length === 0) {
    // A site without libraries: nothing to list (and, in a first pass, nothing to sweep against).
    return { changes: [], cursor: from, hasMore: false, fullEnumeration: from.enumerating, enumerationComplete: from.enumerating };
  }
  if (from.at >= from.libraries.length) from = await nextPass(session, target.id, target.libraries, from);

  const library = from.libraries[from.at];
  if (!library) throw new Error('unreachable: the library index is checked above');
  let page;
  try {
    page = await listDriveChanges(librarySession(session, library.driveId), library.cursor);
  } catch (e) {
    if (isPermanent(e) && e.code === 'driveNotFound') {
      throw new CursorExpiredError(`the library "${library.name}" no longer exists: enumerating the site again`, 'libraryGone', { cause: e });
    }
    throw e;
  }
  const libraries = from.libraries.map((l, i) => (i === from.at ? { ...l, cursor: page.cursor } : l));
  const at = page.hasMore ? from.at : from.at + 1;
  const passDone = at >= libraries.length;
  return {
    changes: page.changes,
    cursor: {
      ...from,
      libraries,
      at,
      enumerating: from.enumerating && !passDone,
      enumeratedAt: from.enumerating && passDone ? new Date().toISOString() : (from.enumeratedAt ?? new Date().toISOString()),
    },
    hasMore: !passDone,
    fullEnumeration: from.enumerating,
    enumerationComplete: from.enumerating && passDone,
  };
}
