import { randomBytes } from 'node:crypto';
import type { AccessGrant } from './identity.js';
import { type Json, renderItem, select } from './render.js';
import type { GraphStore, StoredDrive, StoredItem } from './store.js';

/**
 * The Graph drive endpoints a OneDrive connector uses: drives, items by id and
 * by path, children with paging, root delta with nextLink/deltaLink paging and
 * opaque tokens, and `/content` redirecting to a pre-authenticated URL.
 */

export interface GraphAnswer {
  status: number;
  body?: Json;
  headers?: Record<string, string>;
}

interface DeltaWalk {
  driveId: string;
  /** The items as they were when the walk began (snapshots), rendered a page at a time: a million rendered at once would not fit. */
  entries: Array<Readonly<StoredItem>>;
  /** The change sequence the walk's deltaLink resumes after. */
  upTo: number;
}

type DeltaToken = { s: number } | { w: string; o: number };

export function graphError(status: number, code: string, message: string): GraphAnswer {
  return { status, body: { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomBytes(8).toString('hex') } } } };
}

const encodeToken = (token: DeltaToken) => Buffer.from(JSON.stringify(token)).toString('base64url');

function decodeToken(raw: string): DeltaToken | undefined {
  try {
    const token = JSON.parse(Buffer.from(raw, 'base64url').toString()) as unknown;
    if (typeof token !== 'object' || token === null) return undefined;
    if ('s' in token && typeof token.s === 'number') return { s: token.s };
    if ('w' in token && typeof token.w === 'string' && 'o' in token && typeof token.o === 'number') return { w: token.w, o: token.o };
    return undefined;
  } catch {
    return undefined;
  }
}

function pageSize(url: URL): number {
  const top = Number(url.searchParams.get('$top'));
  return Number.isInteger(top) && top > 0 ? Math.min(top, 999) : 200;
}

/** A drive's logged snapshots after `since`, each item once at its last change when the store collapses delta. */
function sinceLog(store: GraphStore, driveId: string, since: number): Array<Readonly<StoredItem>> {
  const entries = store.log.filter((e) => e.seq > since && e.driveId === driveId).map((e) => e.snapshot);
  if (!store.collapseDelta) return entries;
  const last = new Map(entries.map((snapshot, index) => [snapshot.id, index]));
  return entries.filter((snapshot, index) => last.get(snapshot.id) === index);
}

export class GraphRoutes {
  private readonly walks = new Map<string, DeltaWalk>();
  /**
   * How many more delta requests carrying a token answer 404 although the drive exists: reported on
   * drives that still exist, with a token (OneDrive/onedrive-api-docs#1476) and on OneDrive for
   * Business after a folder delete (#288). The drive itself keeps answering.
   */
  deltaTokenNotFound = 0;

  constructor(
    private readonly store: () => GraphStore,
    private readonly graphBaseUrl: string,
    private readonly mintDownloadUrl: (item: StoredItem) => string,
  ) {}

  /** `path` is the decoded path after `/v1.0`. */
  answer(rawPath: string, url: URL, grant: AccessGrant): GraphAnswer {
    const store = this.store();
    const site = this.site(store, rawPath, url);
    if ('status' in site) return site;
    const path = site.path;
    const target = /^\/(?:drives\/([^/]+)|users\/([^/]+)\/drive|sites\/([^/]+)\/drive|(me)\/drive)(\/.*)?$/.exec(path);
    if (!target) return graphError(400, 'BadRequest', `Resource not found for the segment '${path.split('/')[1] ?? ''}'.`);
    const [, driveId, userId, siteId, me, rest = ''] = target;
    let drive: StoredDrive | undefined;
    if (me) {
      if (!grant.userId) return graphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
      drive = store.drives.get(store.userDrives.get(grant.userId.toLowerCase()) ?? '');
    } else if (userId) drive = store.drives.get(store.userDrives.get(userId.toLowerCase()) ?? '');
    else if (siteId) drive = store.drives.get(store.siteDrives.get(siteId) ?? '');
    else drive = store.drives.get(driveId ?? '');
    if (!drive) return graphError(404, userId || siteId ? 'ResourceNotFound' : 'itemNotFound', 'The resource could not be found.');
    return this.onDrive(store, drive, rest, url);
  }

  /**
   * A site addressed by path, `/sites/{hostname}:/{server-relative-path}:` (the colon at the end
   * needed only before more segments; https://learn.microsoft.com/en-us/graph/api/site-getbypath),
   * rewritten to its composite id; `/sites/{id}` itself, and its document libraries,
   * `/sites/{id}/drives` (https://learn.microsoft.com/en-us/graph/api/drive-list).
   */
  private site(store: GraphStore, path: string, url: URL): { path: string } | GraphAnswer {
    let resolved = path;
    const byPath = /^\/sites\/([^/:]+):(\/[^:]*?)(?::(\/.*)?)?$/.exec(path);
    if (byPath) {
      const [, host = '', sitePath = '', rest = ''] = byPath;
      const siteId = store.sitePaths.get(`${host}:${sitePath.replace(/\/+$/, '')}`.toLowerCase());
      if (!siteId) return graphError(404, 'itemNotFound', 'Requested site could not be found');
      resolved = `/sites/${siteId}${rest}`;
    }
    const ofSite = /^\/sites\/([^/]+)(\/drives)?$/.exec(resolved);
    if (!ofSite) return { path: resolved };
    const [, siteId = '', drives] = ofSite;
    const libraries = store.siteLibraries.get(siteId);
    if (!libraries) return graphError(404, 'itemNotFound', 'Requested site could not be found');
    if (!drives) return { status: 200, body: select({ id: siteId, displayName: 'Team site', webUrl: 'https://contoso.example/sites/team' }, url.searchParams.get('$select')) };
    const value = libraries.flatMap((id) => {
      const drive = store.drives.get(id);
      // Every drive a site lists is a document library, whatever else it also is here.
      return drive ? [select({ id: drive.id, name: drive.name, driveType: 'documentLibrary' }, url.searchParams.get('$select'))] : [];
    });
    return { status: 200, body: { value } };
  }

  private onDrive(store: GraphStore, drive: StoredDrive, rest: string, url: URL): GraphAnswer {
    const fields = url.searchParams.get('$select');
    if (rest === '' || rest === '/') {
      return { status: 200, body: select({ id: drive.id, driveType: drive.driveType, name: drive.name, webUrl: 'https://contoso.example/Shared%20Documents' }, fields) };
    }
    if (rest === '/root/delta') return this.delta(store, drive, url);
    const byPath = /^\/root:([^:]*)(?::(\/children|\/content|\/delta)?)?$/.exec(rest);
    const byId = /^\/(?:root|items\/([^/]+))(\/children|\/content|\/delta)?$/.exec(rest);
    let item: StoredItem | undefined;
    let action: string | undefined;
    if (byPath) {
      item = store.byPath(drive.id, byPath[1] ?? '');
      action = byPath[2];
    } else if (byId) {
      item = byId[1] === undefined ? store.item(drive.rootId) : store.item(byId[1]);
      action = byId[2];
    } else {
      return graphError(400, 'invalidRequest', `Unsupported segment in '${rest}'.`);
    }
    if (!item || item.deleted || item.driveId !== drive.id) return graphError(404, 'itemNotFound', 'The resource could not be found.');

    switch (action) {
      case undefined:
        return { status: 200, body: select(renderItem(store, item, { inDelta: false }), fields) };
      case '/children':
        return this.children(store, drive, item, url);
      case '/content':
        if (item.kind !== 'file') return graphError(400, 'invalidRequest', 'Only files have content.');
        // A file the scan flagged is not served: `malwareDetected` in OneDrive's error codes
        // (https://learn.microsoft.com/en-us/onedrive/developer/rest-api/concepts/errors).
        if (item.malware) return graphError(403, 'malwareDetected', 'Malicious software was detected in the requested item.');
        // A file restricted to its owner: 403 accessDenied with the detailed code `accessRestricted`
        // ("Access restricted to the item's owner") nested in `innerError`, as OneDrive's error
        // codes page lists it (same page). The connector's identity is never the owner here (the
        // worst case: app-only sign-in is no one's).
        if (item.restrictedToOwner) {
          const refusal = graphError(403, 'accessDenied', 'Access denied');
          const error = (refusal.body as { error: { innerError: Record<string, unknown> } }).error;
          error.innerError = { code: 'accessRestricted', ...error.innerError };
          return refusal;
        }
        return { status: 302, headers: { location: this.mintDownloadUrl(item) } };
      default:
        // Folder-scoped delta works on personal OneDrive only (contract §4 bug 13).
        return graphError(400, 'invalidRequest', 'Delta query is only supported on the root folder of OneDrive for Business and SharePoint.');
    }
  }

  private children(store: GraphStore, drive: StoredDrive, parent: StoredItem, url: URL): GraphAnswer {
    if (parent.kind === 'file') return { status: 200, body: { value: [] } };
    const top = pageSize(url);
    const offset = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
    const all = store.children(parent.id);
    const value = all.slice(offset, offset + top).map((child) => select(renderItem(store, child, { inDelta: false }), url.searchParams.get('$select')));
    const body: Json = { value };
    if (offset + top < all.length) {
      const next = new URL(`${this.graphBaseUrl}/drives/${encodeURIComponent(drive.id)}/items/${encodeURIComponent(parent.id)}/children`);
      for (const key of ['$select', '$top']) {
        const v = url.searchParams.get(key);
        if (v !== null) next.searchParams.set(key, v);
      }
      next.searchParams.set('$skiptoken', String(offset + top));
      body['@odata.nextLink'] = next.toString();
    }
    return { status: 200, body };
  }

  private delta(store: GraphStore, drive: StoredDrive, url: URL): GraphAnswer {
    const raw = url.searchParams.get('token');
    const fields = url.searchParams.get('$select');
    const link = (token: DeltaToken) => {
      const next = new URL(`${this.graphBaseUrl}/drives/${encodeURIComponent(drive.id)}/root/delta`);
      for (const key of ['$select', '$top']) {
        const v = url.searchParams.get(key);
        if (v !== null) next.searchParams.set(key, v);
      }
      next.searchParams.set('token', encodeToken(token));
      return next.toString();
    };
    if (raw === 'latest') return { status: 200, body: { value: [], '@odata.deltaLink': link({ s: store.currentSeq }) } };
    if (raw !== null && this.deltaTokenNotFound > 0) {
      this.deltaTokenNotFound--;
      return graphError(404, 'itemNotFound', 'The resource could not be found.');
    }

    let walkId: string;
    let offset = 0;
    const token = raw === null ? undefined : decodeToken(raw);
    if (raw !== null && token === undefined) return graphError(400, 'invalidRequest', 'Invalid delta token.');
    if (token === undefined || 's' in token) {
      const since = token?.s;
      const entries = since === undefined ? store.deltaOrder(drive.id).map((item) => ({ ...item })) : sinceLog(store, drive.id, since);
      walkId = randomBytes(6).toString('hex');
      this.walks.set(walkId, { driveId: drive.id, entries, upTo: store.currentSeq });
    } else {
      walkId = token.w;
      offset = token.o;
    }
    const walk = this.walks.get(walkId);
    if (!walk || walk.driveId !== drive.id) return graphError(410, 'resyncRequired', 'Resync required. Replace any local items with the server\'s version (including deletes).');
    const top = pageSize(url);
    const body: Json = { value: walk.entries.slice(offset, offset + top).map((snapshot) => select(renderItem(store, snapshot, { inDelta: true }), fields)) };
    if (offset + top < walk.entries.length) body['@odata.nextLink'] = link({ w: walkId, o: offset + top });
    else body['@odata.deltaLink'] = link({ s: walk.upTo });
    return { status: 200, body };
  }
}
