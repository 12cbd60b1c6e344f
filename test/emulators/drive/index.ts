import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GoogleIdentity, unauthenticated, type ServiceAccountKeyFile, type TokenGrantRecord } from './auth.js';
import { FaultBook, type FaultReply, type FaultRule } from './faults.js';
import { DrivePush } from './push.js';
import { DriveQuota } from './quota.js';
import { DriveCounters, DriveRoutes, type DriveReply } from './routes.js';
import { DEFAULT_USER, DriveStore } from './store.js';

export { DEFAULT_CLIENT } from './auth.js';
export { fault, googleError, type FaultRule } from './faults.js';
export { EXPORT_SIZE_LIMIT } from './routes.js';
export { DEFAULT_USER, NATIVE } from './store.js';

/**
 * The project's Google Drive emulator: Drive v3 (files, export, changes,
 * drives), export links, and Google's OAuth token endpoint, on 127.0.0.1 at an
 * ephemeral port. Tests build drives through the methods below, inject faults
 * with `fail`, and read what the source did from `counters` and `requests`.
 *
 * Where Drive is hard on a client, so is the emulator (each rule cites its
 * reference beside it): items shared one by one with non-members of their
 * shared drive, who get 404 from every drive-scoped call (`share`); a user log
 * without the changes of member drives; bulk trash, restore and deletion logged
 * for the top item only; link-shared items refused without their resource key
 * (`shareByLink`); download restrictions (`restrictDownload`); drives deleted or
 * left (`deleteSharedDrive`, `removeMember`) as `changeType: drive` entries;
 * incomplete allDrives searches on demand (`incompleteSearches`).
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export class DriveEmulator {
  store = new DriveStore();
  counters = new DriveCounters();
  /** Queries per user and per project per minute: `quota.settings.enforce` turns them on. */
  readonly quota = new DriveQuota();
  /** Every request, in order, with the status it got. */
  requests: RecordedRequest[] = [];
  readonly identity: GoogleIdentity;
  /** Push channels on change logs and the messages they get, with delivery faults (push.ts). */
  readonly push: DrivePush;
  private routes: DriveRoutes;
  private faults = new FaultBook();
  /** Users added by tests or service accounts: they survive reset(), as identities do. */
  private readonly knownUsers = new Set<string>();

  constructor(private readonly server: Server) {
    this.identity = new GoogleIdentity(() => this.tokenUrl, (email) => this.store.users.has(email));
    this.routes = new DriveRoutes(this.store, this.counters, () => this.driveBaseUrl);
    this.push = new DrivePush(() => this.driveBaseUrl);
    this.push.attach(this.store);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.serve(req, res).catch((e: unknown) => {
        // An emulator bug: say so loudly rather than look like a network fault.
        console.error('drive emulator failed on', req.method, req.url, e);
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 500, message: String(e) } }));
      });
    });
  }

  get driveBaseUrl(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  get tokenUrl(): string {
    return `${this.driveBaseUrl}/token`;
  }

  // ---- building drives -------------------------------------------------------

  /** Empties every drive, log, fault and counter; identities (clients, tokens, service accounts) stay. */
  reset(): void {
    this.store = new DriveStore();
    for (const email of this.knownUsers) this.store.addUser(email);
    this.counters.reset();
    this.quota.reset();
    this.requests = [];
    this.faults.clear();
    this.identity.grants.length = 0;
    this.routes = new DriveRoutes(this.store, this.counters, () => this.driveBaseUrl);
    this.push.reset();
    this.push.attach(this.store);
  }

  myDrive(email = DEFAULT_USER): string {
    return this.store.rootOf(email);
  }

  addUser(email: string): string {
    this.knownUsers.add(email);
    return this.store.addUser(email);
  }

  addSharedDrive(name: string, members?: string[]): string {
    return this.store.addSharedDrive(name, members);
  }

  addFolder(parentId: string, name: string): string {
    return this.store.addFolder(parentId, name);
  }

  addFile(parentId: string, name: string, bytes: string | Buffer, options?: { mimeType?: string }): string {
    return this.store.addFile(parentId, name, bytes, options);
  }

  /** A Google-native file; `exports` maps each export MIME type to its bytes, `exportSize` declares a size for the 10 MB cap. */
  addNativeFile(parentId: string, name: string, mimeType: string, options?: { exports?: Record<string, string | Buffer>; exportSize?: number }): string {
    return this.store.addNativeFile(parentId, name, mimeType, options);
  }

  addShortcut(parentId: string, name: string, targetId: string): string {
    return this.store.addShortcut(parentId, name, targetId);
  }

  update(id: string, change: { content?: string | Buffer; exports?: Record<string, string | Buffer>; exportSize?: number }): void {
    this.store.update(id, change);
  }

  rename(id: string, name: string): void {
    this.store.rename(id, name);
  }

  move(id: string, newParentId: string): void {
    this.store.move(id, newParentId);
  }

  trash(id: string): void {
    this.store.trash(id);
  }

  /** Restores a trashed file (and a trashed folder's subtree), each with a change. */
  untrash(id: string): void {
    this.store.untrash(id);
  }

  remove(id: string): void {
    this.store.remove(id);
  }

  /** Shares one item (and what is below it) with a user, member of its drive or not. */
  share(id: string, email: string): void {
    this.store.share(id, email);
  }

  /** Shares an item by link: returns its resource key (needed by whoever has no direct access). */
  shareByLink(id: string): string {
    return this.store.shareByLink(id);
  }

  /** Downloads turned off for readers (capabilities.canDownload false; 403 cannotDownloadFile). */
  restrictDownload(id: string): void {
    this.store.restrictDownload(id);
  }

  removeMember(driveId: string, email: string): void {
    this.store.removeMember(driveId, email);
  }

  deleteSharedDrive(driveId: string): void {
    this.store.deleteSharedDrive(driveId);
  }

  /** Every change page token issued so far becomes invalid (400 on use). */
  expireChangeTokens(): void {
    this.store.nextSeq += 1;
    this.store.oldestValidToken = this.store.nextSeq;
  }

  /** The next `count` corpora=allDrives listings answer incompleteSearch: true, missing their last file. */
  set incompleteSearches(count: number) {
    this.routes.incompleteSearches = count;
  }

  /** Largest page handed out, whatever `pageSize` asks. */
  set maxPageSize(size: number) {
    this.routes.maxPageSize = size;
  }

  // ---- identities --------------------------------------------------------------

  issueRefreshToken(email = DEFAULT_USER, clientId?: string): string {
    return this.identity.issueRefreshToken(email, clientId);
  }

  revokeRefreshToken(token: string): void {
    this.identity.revokeRefreshToken(token);
  }

  /** A service account with a fresh RSA key; its own My Drive exists too. */
  createServiceAccount(options?: { email?: string; delegation?: boolean }): ServiceAccountKeyFile {
    const key = this.identity.createServiceAccount(options);
    this.addUser(key.email);
    return key;
  }

  expireAccessTokens(): void {
    this.identity.expireAccessTokens();
  }

  set tokenTtlSeconds(seconds: number) {
    this.identity.tokenTtlSeconds = seconds;
  }

  get tokenGrants(): readonly TokenGrantRecord[] {
    return this.identity.grants;
  }

  // ---- faults and counters -----------------------------------------------------

  fail(rule: FaultRule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Requests to exactly this path (and whose query has these values), in order. */
  requestsTo(path: string, query: Record<string, string> = {}): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path && Object.entries(query).every(([k, v]) => r.query[k] === v));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- serving -----------------------------------------------------------------

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.driveBaseUrl);
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const record: RecordedRequest = { method, path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0 };
    this.requests.push(record);
    this.counters.bump(this.counters.requests, `${method} ${url.pathname}`);

    const injected = this.faults.take({ method, pathname: url.pathname, query: url.searchParams });
    if (injected) return this.sendFault(injected, record, req, res);

    let reply: DriveReply;
    if (url.pathname === '/token' && method === 'POST') {
      reply = this.identity.handleTokenRequest(new URLSearchParams(Buffer.concat(chunks).toString()));
    } else {
      const who = this.identity.identityOf(req.headers.authorization);
      const request = who ? { method, pathname: url.pathname, query: url.searchParams, headers: req.headers, identity: who } : undefined;
      reply = request
        ? (this.quota.meter(request.identity) ??
          (this.push.handles(url.pathname) ? this.push.handle(request, Buffer.concat(chunks).toString()) : this.routes.handle(request)))
        : unauthenticated();
    }
    send(res, reply, record);
  }

  private sendFault(reply: FaultReply, record: RecordedRequest, req: IncomingMessage, res: ServerResponse): void {
    if ('kind' in reply && reply.kind === 'reset') {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if ('kind' in reply) {
      record.status = 200;
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Temporary glitch</body></html>');
      return;
    }
    send(res, reply, record);
  }
}

function send(res: ServerResponse, reply: DriveReply, record: RecordedRequest): void {
  record.status = reply.status;
  const body = reply.body === undefined ? undefined : Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(JSON.stringify(reply.body));
  const type = Buffer.isBuffer(reply.body) ? {} : { 'content-type': 'application/json; charset=UTF-8' };
  res.writeHead(reply.status, { ...type, ...reply.headers, ...(body ? { 'content-length': String(body.length) } : {}) });
  res.end(body);
}

export async function startDriveEmulator(): Promise<DriveEmulator> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return new DriveEmulator(server);
}
