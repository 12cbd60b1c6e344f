/**
 * The Graph emulator with SharePoint's resource-unit quota on, in its own
 * process (forked by bench/quota.ts), for the quota benchmarks: two tenants
 * (each its own app registration, metered apart), drives seeded on demand,
 * files changed on demand, and what each tenant spent per window and how many
 * 429s it got. Driven over the IPC channel like bench/emulator-process.ts.
 */
import { randomBytes } from 'node:crypto';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_TENANT, startGraphEmulator } from '../test/emulators/graph/index.js';
import { serveRequests } from './child.js';

export type QuotaEmulatorCommand =
  | { op: 'quota'; unitsPerWindow: number; windowMs: number }
  | { op: 'seed'; files: number; sizeBytes: number; folders: number }
  | { op: 'change'; driveId: string; count: number }
  | { op: 'firstRequestOn'; driveId: string; sinceMs: number }
  | { op: 'counts' }
  | { op: 'close' };

export interface TenantApp {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface QuotaEmulatorReady {
  graphBaseUrl: string;
  loginBaseUrl: string;
  /** Tenant A is the service's own app (MS_GRAPH_*); tenant B's connectors name their app in their config. */
  tenants: { a: TenantApp; b: TenantApp };
}

export interface TenantCounts {
  /** Units spent per window (refused requests included), with each window's start. */
  windows: Array<{ startMs: number; units: number }>;
  throttled: number;
}

export interface QuotaEmulatorCounts {
  requests: number;
  /** Requests to Graph's drive routes (the metered ones). */
  driveRequests: number;
  downloads: number;
  tenants: { a: TenantCounts; b: TenantCounts };
}

const emu = await startGraphEmulator();
const tenantB: TenantApp = { tenantId: 'bench-tenant-b', clientId: 'bench-app-b', clientSecret: 'bench-secret-b' };
emu.identity.registerClient(tenantB.clientId, { secret: tenantB.clientSecret, tenantId: tenantB.tenantId });
const tenantA: TenantApp = { tenantId: EMULATOR_TENANT, clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET };

// When each request arrived, beside the emulator's own record of it (same index).
const arrivedAt: number[] = [];
const record = emu.requests.push.bind(emu.requests);
emu.requests.push = (...items) => {
  for (let i = 0; i < items.length; i++) arrivedAt.push(Date.now());
  return record(...items);
};

function contentPool(sizeBytes: number): (i: number) => Buffer {
  const pool = randomBytes(sizeBytes + 64 * 1024);
  return (i) => pool.subarray((i * 4099) % (64 * 1024), ((i * 4099) % (64 * 1024)) + sizeBytes);
}

function seed(files: number, sizeBytes: number, folders: number): { driveId: string } {
  const drive = emu.store.createDrive();
  const folderIds = Array.from({ length: folders }, (_, i) => emu.store.addFolder(drive.rootId, `f${i}`).id);
  const bytesFor = contentPool(sizeBytes);
  for (let i = 0; i < files; i++) emu.store.addFile(folderIds[i % folders] as string, `doc-${i}.txt`, bytesFor(i), { driveId: drive.id });
  return { driveId: drive.id };
}

/** New content for `count` files of the drive: the next delta lists them, and each is downloaded again. */
function change(driveId: string, count: number): { changed: number } {
  const files = emu.store.deltaOrder(driveId).filter((item) => item.kind === 'file' && !item.deleted).slice(0, count);
  for (const file of files) emu.store.updateFile(file.id, Buffer.concat([file.content.subarray(0, 64), randomBytes(64)]));
  return { changed: files.length };
}

/** When the first request on the drive's routes arrived at or after `sinceMs` (undefined: none yet). */
function firstRequestOn(driveId: string, sinceMs: number): { at: number | undefined } {
  const prefix = `/v1.0/drives/${driveId}/`;
  let first: number | undefined;
  for (let i = emu.requests.length - 1; i >= 0 && (arrivedAt[i] ?? 0) >= sinceMs; i--) if (emu.requests[i]?.path.startsWith(prefix)) first = i;
  return { at: first === undefined ? undefined : arrivedAt[first] };
}

function tenantCounts(app: TenantApp): TenantCounts {
  return { windows: emu.quota.windowsOf(app.clientId), throttled: emu.quota.throttledPerTenant.get(app.clientId) ?? 0 };
}

function counts(): QuotaEmulatorCounts {
  return {
    requests: emu.requests.length,
    driveRequests: emu.requestCount(/^\/v1\.0\/drives\//),
    downloads: emu.requestCount(/^\/download\//),
    tenants: { a: tenantCounts(tenantA), b: tenantCounts(tenantB) },
  };
}

serveRequests<QuotaEmulatorCommand>(
  (command) => {
    switch (command.op) {
      case 'quota':
        // Fixed windows, headers from 80 % of the window, 429 with Retry-After past it (test/emulators/graph/quota.ts).
        Object.assign(emu.quota.settings, { enforce: true, unitsPerWindow: command.unitsPerWindow, windowMs: command.windowMs });
        return {};
      case 'seed':
        return seed(command.files, command.sizeBytes, command.folders);
      case 'change':
        return change(command.driveId, command.count);
      case 'firstRequestOn':
        return firstRequestOn(command.driveId, command.sinceMs);
      case 'counts':
        return counts();
    }
  },
  () => emu.close(),
  { graphBaseUrl: emu.graphBaseUrl, loginBaseUrl: emu.loginBaseUrl, tenants: { a: tenantA, b: tenantB } } satisfies QuotaEmulatorReady,
);
