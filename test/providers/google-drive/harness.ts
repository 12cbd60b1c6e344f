import type { Readable } from 'node:stream';
import type { Config } from '../../../src/config.js';
import { CursorExpiredError } from '../../../src/errors.js';
import type { GoogleCredential, GoogleCredentialStore } from '../../../src/providers/google-drive/credentials.js';
import type { ChangesCursor, CrawlCursor, DriveCursor } from '../../../src/providers/google-drive/cursor.js';
import { createGoogleDriveProvider } from '../../../src/providers/google-drive/provider.js';
import { SourceMemory } from '../../../src/providers/source-memory.js';
import type { ChangePage, SourceChange, SourceItem } from '../../../src/providers/types.js';
import { connectorRow, memorySourceContext, type MemorySourceContext } from '../../support/memory-source-context.js';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { DEFAULT_CLIENT, DEFAULT_USER, startDriveEmulator, type DriveEmulator } from '../../emulators/drive/index.js';

/** Shared set-up for the Google Drive source tests: a provider pointed at the emulator, contexts, and draining. */

export function settingsFor(emu: DriveEmulator, serviceAccountJson = ''): Config['google'] {
  return { serviceAccountJson, driveBaseUrl: emu.driveBaseUrl, oauthTokenUrl: emu.tokenUrl };
}

/** What one worker's sources remember (tokens, tenant pauses, keys): a new worker for every test. */
let memory = new SourceMemory();

/** The google_credentials row of each test context, keyed by its connector row object. */
const credentialRows = new WeakMap<object, GoogleCredential | null>();

/** The `google_credentials` table, in memory. */
const memoryCredentials: GoogleCredentialStore = {
  load: (owner) => Promise.resolve(credentialRows.get(owner) ?? null),
  save(owner, update) {
    const row = credentialRows.get(owner);
    if (!row) return Promise.reject(new Error('no google credential row to update'));
    credentialRows.set(owner, { ...row, accessToken: update.accessToken, expiresAt: update.expiresAt, refreshToken: update.refreshToken ?? row.refreshToken });
    return Promise.resolve();
  },
};

export function providerFor(emu: DriveEmulator, serviceAccountJson = '') {
  return createGoogleDriveProvider(settingsFor(emu, serviceAccountJson), memoryCredentials);
}

/** A google_credentials row for `email`, with a refresh token the emulator knows and no access token yet. */
export function credentialRow(emu: DriveEmulator, email = DEFAULT_USER, overrides: Partial<GoogleCredential> = {}): GoogleCredential {
  return {
    id: 7,
    accessToken: null,
    refreshToken: emu.issueRefreshToken(email),
    expiresAt: null,
    clientId: DEFAULT_CLIENT.clientId,
    clientSecret: DEFAULT_CLIENT.clientSecret,
    ...overrides,
  };
}

export interface DriveTestContext extends MemorySourceContext {
  /** The connector's google_credentials row as it stands now (the source saves refreshed tokens to it). */
  readonly googleCredential: GoogleCredential | null;
}

export function driveContext(
  emu: DriveEmulator,
  config: Record<string, unknown> = {},
  options: { googleCredential?: GoogleCredential | null } = {},
): DriveTestContext {
  const ctx = memorySourceContext(connectorRow({ type: 'google_drive', config }), { memory });
  credentialRows.set(ctx.connector, options.googleCredential === undefined ? credentialRow(emu) : options.googleCredential);
  return Object.defineProperty(ctx, 'googleCredential', { get: () => credentialRows.get(ctx.connector) ?? null }) as DriveTestContext;
}

/** The cursor of a scope that is not lost (crawl or changes), for tests that read its logs or frontier. */
export function walking(cursor: DriveCursor): CrawlCursor | ChangesCursor {
  if (cursor.phase === 'lost') throw new Error('expected a crawl or changes cursor, got a lost scope');
  return cursor;
}

export interface Drained {
  pages: Array<ChangePage<DriveCursor>>;
  changes: SourceChange[];
  cursor: DriveCursor;
}

/** Calls listChanges until hasMore is false (or `maxPages`), as the pipeline would. */
export async function drain(
  provider: ReturnType<typeof createGoogleDriveProvider>,
  ctx: MemorySourceContext,
  cursor: DriveCursor | null,
  maxPages = 200,
): Promise<Drained> {
  const pages: Array<ChangePage<DriveCursor>> = [];
  let at = cursor;
  for (let i = 0; i < maxPages; i++) {
    // Through JSON, as the cursor travels through Temporal history and connectors.state.
    const page = await provider.listChanges(ctx, at === null ? null : provider.parseCursor(JSON.parse(JSON.stringify(at))));
    pages.push(page);
    at = page.cursor;
    if (!page.hasMore) return { pages, changes: pages.flatMap((p) => p.changes), cursor: page.cursor };
  }
  throw new Error(`still hasMore after ${maxPages} pages`);
}

export interface Synced extends Drained {
  /** The source rejected the cursor (CursorExpiredError) and the sync started over from what it offered. */
  restarted: boolean;
  /** A page ended a full enumeration: the pipeline would sweep what it did not see. */
  swept: boolean;
}

/**
 * One sync as the pipeline runs it (activities/plan-page.ts): pages until
 * caught up; a CursorExpiredError restarts from the cursor it offers (the
 * folder tree kept) or from nothing (the folder tree cleared), once.
 */
export async function syncOnce(provider: ReturnType<typeof createGoogleDriveProvider>, ctx: MemorySourceContext, cursor: DriveCursor | null): Promise<Synced> {
  const pages: Array<ChangePage<DriveCursor>> = [];
  let at = cursor === null ? null : provider.parseCursor(JSON.parse(JSON.stringify(cursor)));
  let restarted = false;
  for (let i = 0; i < 200; i++) {
    let page: ChangePage<DriveCursor>;
    try {
      page = await provider.listChanges(ctx, at);
    } catch (e) {
      if (!(e instanceof CursorExpiredError) || restarted) throw e;
      restarted = true;
      at = e.restartFrom ? provider.parseCursor(e.restartFrom) : null;
      if (at === null) await ctx.folders.clear();
      continue;
    }
    pages.push(page);
    at = provider.parseCursor(JSON.parse(JSON.stringify(page.cursor)));
    if (!page.hasMore) {
      return { pages, changes: pages.flatMap((p) => p.changes), cursor: page.cursor, restarted, swept: pages.some((p) => p.enumerationComplete === true) };
    }
  }
  throw new Error('still hasMore after 200 pages');
}

/** Drains only the full enumeration (up to enumerationComplete). */
export async function crawl(provider: ReturnType<typeof createGoogleDriveProvider>, ctx: MemorySourceContext): Promise<Drained> {
  const pages: Array<ChangePage<DriveCursor>> = [];
  let at: DriveCursor | null = null;
  for (let i = 0; i < 500; i++) {
    const page = await provider.listChanges(ctx, at);
    pages.push(page);
    at = page.cursor;
    if (page.enumerationComplete) return { pages, changes: pages.flatMap((p) => p.changes), cursor: page.cursor };
  }
  throw new Error('the crawl never completed');
}

export const upserts = (changes: SourceChange[]): SourceItem[] =>
  changes.flatMap((c) => (c.kind === 'upsert' ? [c.item] : []));
export const deletes = (changes: SourceChange[]): string[] => changes.flatMap((c) => (c.kind === 'delete' ? [c.sourceId] : []));
export const skips = (changes: SourceChange[]) => changes.flatMap((c) => (c.kind === 'skip' ? [c] : []));
export const names = (changes: SourceChange[]): string[] => upserts(changes).map((i) => i.name).sort();

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * One Drive emulator per test file: started once, reset before every test,
 * which also gets a worker of its own (no tokens, no tenant pauses). `use`
 * receives the emulator once it is up.
 */
export function useDriveEmulator(use: (emulator: DriveEmulator) => void): void {
  let emulator: DriveEmulator | undefined;
  beforeAll(async () => {
    emulator = await startDriveEmulator();
    use(emulator);
  });
  afterAll(() => emulator?.close());
  beforeEach(() => {
    emulator?.reset();
    memory = new SourceMemory();
  });
}
