import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../../src/config.js';
import { type DownloadAnswer, PreauthenticatedDownloads } from './downloads.js';
import { defaultCode, type EmulatedRequest, type Fault, takeFault } from './faults.js';
import { IdentityEmulator } from './identity.js';
import { GraphPush } from './push.js';
import { GraphQuota } from './quota.js';
import { graphError, GraphRoutes } from './routes.js';
import { type FileOptions, GraphStore, type ParentRef, type StoredDrive, type StoredItem } from './store.js';
import { type TeamsLimits, TeamsRoutes } from './teams-routes.js';
import { TeamsStore } from './teams-store.js';

/**
 * Microsoft Graph (drives) and the identity token endpoint on one local port,
 * for tests and the demo. Start with `startGraphEmulator()`; point the
 * connector at `emulator.settings`; shape the drive with `addFile`, `rename`,
 * `move`…; spoil requests with `emulator.faults.push(…)`; read what happened in
 * `requests`, `downloads(id)` and `authorizationLeaks`.
 */

export const EMULATOR_TENANT = 'emulator-tenant';
export const EMULATOR_CLIENT_ID = 'emulator-app';
export const EMULATOR_CLIENT_SECRET = 'emulator-secret';
/** A public client (no secret), as a desktop app's refresh tokens would use. */
export const EMULATOR_PUBLIC_CLIENT_ID = 'emulator-public-app';
/** The user owning the default drive (`/me/drive` for delegated tokens, `/users/alice/drive`). */
export const EMULATOR_USER = { id: 'alice', upn: 'alice@contoso.example' };
export const EMULATOR_SITE_ID = 'contoso.example,site-1,web-1';
/** The same site in Graph's path form (`host:/server-relative-path:`). */
export const EMULATOR_SITE_PATH = 'contoso.example:/sites/team:';

export interface RecordedRequest {
  method: string;
  /** Decoded path, e.g. `/v1.0/drives/b!emu-drive-1/root/delta`. */
  path: string;
  search: string;
  /** Whether an Authorization header came with it. */
  authorized: boolean;
  userAgent?: string;
  /** 0 when the emulator cut the connection instead of answering. */
  status: number;
}

export interface GraphEmulator {
  readonly baseUrl: string;
  readonly graphBaseUrl: string;
  readonly loginBaseUrl: string;
  /** Service settings signing in app-only against this emulator. */
  readonly settings: Config['microsoft'];
  readonly store: GraphStore;
  /** Teams, channels, threads; their files live in `store`'s drives. */
  readonly teams: TeamsStore;
  /** Teams throttling: `enforce` answers 429 over 4 requests/s per team or channel and 20/s on channel messages. */
  readonly teamsLimits: TeamsLimits;
  /** SharePoint's resource units per app per tenant per minute: `quota.settings.enforce` turns it on (drive routes; per client id). */
  readonly quota: GraphQuota;
  /** Replies inlined by `$expand=replies` before `replies@odata.nextLink` (Graph: 1,000). */
  expandedReplies: number;
  /** The expansion is cut at expandedReplies without `replies@odata.nextLink` (reported on real tenants). */
  omitRepliesNextLink: boolean;
  /** Page the channel list this many at a time (unset: one page). */
  channelsPerPage: number | undefined;
  /** The default drive (business), owned by EMULATOR_USER and the default site's library. */
  readonly drive: StoredDrive;
  readonly identity: IdentityEmulator;
  /** Subscriptions and the notifications they get, with delivery faults (push.ts). */
  readonly push: GraphPush;
  readonly faults: Fault[];
  readonly requests: RecordedRequest[];
  /** Download requests that carried an Authorization header (each was refused). */
  readonly authorizationLeaks: number;
  /** Successful downloads of one item's bytes. */
  downloads(itemId: string): number;
  requestCount(path: RegExp): number;
  addFolder(parent: ParentRef, name: string): StoredItem;
  addFile(parent: ParentRef, name: string, content: string | Buffer, options?: FileOptions): StoredItem;
  updateFile(ref: string, content: string | Buffer): StoredItem;
  rename(ref: string, name: string): StoredItem;
  move(ref: string, newParent: ParentRef): StoredItem;
  delete(ref: string): void;
  /** Restores a deleted item from the recycle bin (delta reports the item alone, see GraphStore.restore). */
  restore(id: string): StoredItem;
  /** The next `times` download links of the item refuse with this status (see PreauthenticatedDownloads.refuse). */
  refuseDownloads(itemId: string, status: 401 | 403, times?: number): void;
  /** The next `times` delta requests with a token answer 404 on the live drive (see GraphRoutes.deltaTokenNotFound). */
  loseDeltaTokens(times?: number): void;
  /** A fresh store with an empty default drive; faults, counters and issued tokens cleared. */
  reset(): void;
  close(): Promise<void>;
}

function freshStore(graphBaseUrl: string): { store: GraphStore; drive: StoredDrive; teams: TeamsStore } {
  const store = new GraphStore();
  const drive = store.createDrive({ userIds: [EMULATOR_USER.id, EMULATOR_USER.upn], siteId: EMULATOR_SITE_ID, sitePath: 'contoso.example:/sites/team' });
  return { store, drive, teams: new TeamsStore(store, graphBaseUrl) };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startGraphEmulator(): Promise<GraphEmulator> {
  const identity = new IdentityEmulator();
  identity.registerClient(EMULATOR_CLIENT_ID, { secret: EMULATOR_CLIENT_SECRET, tenantId: EMULATOR_TENANT });
  identity.registerClient(EMULATOR_PUBLIC_CLIENT_ID, { tenantId: EMULATOR_TENANT });
  const faults: Fault[] = [];
  const requests: RecordedRequest[] = [];

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const graphBaseUrl = `${baseUrl}/v1.0`;

  let { store, drive, teams } = freshStore(graphBaseUrl);
  const downloads = new PreauthenticatedDownloads(baseUrl);
  const routes = new GraphRoutes(() => store, graphBaseUrl, (item) => downloads.mint(item));
  const teamsRoutes = new TeamsRoutes(() => teams, () => store, graphBaseUrl);
  const quota = new GraphQuota();
  const push = new GraphPush(graphBaseUrl, EMULATOR_TENANT);
  push.attach(store, teams);

  function send(res: ServerResponse, record: RecordedRequest, answer: DownloadAnswer, truncate: boolean): void {
    const bytes = answer.raw ?? (answer.body ? Buffer.from(JSON.stringify(answer.body)) : Buffer.alloc(0));
    record.status = answer.status;
    res.writeHead(answer.status, {
      ...(answer.body ? { 'content-type': 'application/json; odata.metadata=minimal' } : {}),
      'content-length': String(bytes.length),
      ...answer.headers,
    });
    if (!truncate) {
      res.end(bytes);
      return;
    }
    // Promise more than we send, then hang up: a client must notice the bytes it never got.
    res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy());
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    const method = req.method ?? 'GET';
    const record: RecordedRequest = {
      method,
      path,
      search: url.search,
      authorized: req.headers.authorization !== undefined,
      status: 0,
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
    };
    requests.push(record);
    const request: EmulatedRequest = { method, path, url, headers: req.headers };
    const body = method === 'POST' || method === 'PATCH' ? await readBody(req) : '';

    const fault = takeFault(faults, request);
    if (fault && 'reset' in fault) {
      req.socket.destroy();
      return;
    }
    if (fault && 'garbage' in fault) {
      send(res, record, { status: 200, raw: Buffer.from('<html><body>Service temporarily unavailable</body></html>'), headers: { 'content-type': 'text/html' } }, false);
      return;
    }
    if (fault && 'status' in fault) {
      const answer = graphError(fault.status, fault.code ?? defaultCode(fault.status), fault.message ?? 'Injected by the emulator.');
      answer.headers = { ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}), ...fault.headers };
      send(res, record, answer, false);
      return;
    }
    const truncate = fault !== undefined && 'truncate' in fault;

    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    if (tokenPath) {
      if (method !== 'POST') return send(res, record, graphError(405, 'methodNotAllowed', 'POST only.'), truncate);
      const answer = identity.answer(tokenPath[1] ?? '', new URLSearchParams(body));
      return send(res, record, { status: answer.status, body: answer.body }, truncate);
    }
    const downloadPath = /^\/download\/([0-9a-f]+)$/.exec(path);
    if (downloadPath) return send(res, record, downloads.serve(req, downloadPath[1] ?? ''), truncate);
    if (!path.startsWith('/v1.0/')) return send(res, record, graphError(404, 'notFound', `No route for ${path}.`), truncate);

    const grant = identity.authenticate(req.headers.authorization);
    if ('error' in grant) {
      return send(res, record, { ...graphError(401, 'InvalidAuthenticationToken', grant.error), headers: { 'www-authenticate': 'Bearer realm=""' } }, truncate);
    }
    const graphPath = path.slice('/v1.0'.length);
    if (push.handles(graphPath)) return send(res, record, await push.answer(method, graphPath, body, grant), truncate);
    if (method !== 'GET') return send(res, record, graphError(405, 'methodNotAllowed', 'The emulator only reads.'), truncate);
    if (teamsRoutes.handles(graphPath)) return send(res, record, teamsRoutes.answer(graphPath, url, req.headers), truncate);
    const metered = quota.meter(grant.clientId, method, graphPath, url);
    send(res, record, metered.refused ?? GraphQuota.stamp(routes.answer(graphPath, url, grant), metered.headers), truncate);
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`emulator failure: ${e instanceof Error ? e.stack : String(e)}`);
    });
  });

  return {
    baseUrl,
    graphBaseUrl,
    loginBaseUrl: baseUrl,
    settings: { clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET, tenantId: EMULATOR_TENANT, graphBaseUrl, loginBaseUrl: baseUrl },
    get store() {
      return store;
    },
    get drive() {
      return drive;
    },
    get teams() {
      return teams;
    },
    teamsLimits: teamsRoutes.limits,
    quota,
    get expandedReplies() {
      return teamsRoutes.expandedReplies;
    },
    set expandedReplies(n: number) {
      teamsRoutes.expandedReplies = n;
    },
    get omitRepliesNextLink() {
      return teamsRoutes.omitRepliesNextLink;
    },
    set omitRepliesNextLink(omit: boolean) {
      teamsRoutes.omitRepliesNextLink = omit;
    },
    get channelsPerPage() {
      return teamsRoutes.channelsPerPage;
    },
    set channelsPerPage(n: number | undefined) {
      teamsRoutes.channelsPerPage = n;
    },
    identity,
    push,
    faults,
    requests,
    get authorizationLeaks() {
      return downloads.authorizationLeaks;
    },
    downloads: (itemId) => downloads.count(itemId),
    requestCount: (pattern) => requests.filter((r) => pattern.test(r.path)).length,
    addFolder: (parent, name) => store.addFolder(parent, name),
    addFile: (parent, name, content, options) => store.addFile(parent, name, content, options),
    updateFile: (ref, content) => store.updateFile(ref, content),
    rename: (ref, name) => store.rename(ref, name),
    move: (ref, newParent) => store.move(ref, newParent),
    delete: (ref) => store.delete(ref),
    restore: (id) => store.restore(id),
    refuseDownloads: (itemId, status, times) => downloads.refuse(itemId, status, times),
    loseDeltaTokens(times = 1) {
      routes.deltaTokenNotFound = times;
    },
    reset() {
      ({ store, drive, teams } = freshStore(graphBaseUrl));
      push.reset();
      push.attach(store, teams);
      teamsRoutes.reset();
      quota.reset();
      faults.length = 0;
      requests.length = 0;
      downloads.clear();
      routes.deltaTokenNotFound = 0;
      identity.reset();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
