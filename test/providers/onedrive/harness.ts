import type { Readable } from 'node:stream';
import type { Config } from '../../../src/config.js';
import type { SourceHttpOptions } from '../../../src/http/source-http.js';
import type { OneDriveCursor, SiteCursor } from '../../../src/providers/microsoft-graph/onedrive/cursor.js';
import { createOneDriveProvider } from '../../../src/providers/microsoft-graph/onedrive/provider.js';
import type { ChangeCursor, ChangePage, SourceChange, SourceItem, SourceProvider } from '../../../src/providers/types.js';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { SourceMemory } from '../../../src/providers/source-memory.js';
import { type GraphEmulator, startGraphEmulator } from '../../emulators/graph/index.js';
import { connectorRow, type MemorySourceContext, memorySourceContext } from '../../support/memory-source-context.js';

/** Shared steps of the OneDrive tests: a context pointed at the emulator, and whole walks of changes. */

let nextConnectorId = 100;
/** What one worker's sources remember (tokens, tenant pauses): a new worker for every test. */
let memory = new SourceMemory();

export function oneDriveContext(
  emulator: GraphEmulator,
  config: Record<string, unknown> = { drive_id: emulator.drive.id },
  http: Partial<SourceHttpOptions> = {},
): MemorySourceContext {
  return memorySourceContext(connectorRow({ id: nextConnectorId++, type: 'onedrive', config }), { http, memory });
}

/**
 * The OneDrive provider, typed for the cursor its connector config leads to: a drive's for a
 * drive, user, "me" or folder scope (`providerFor`), a site's for a site's libraries
 * (`siteProviderFor`). The object is the same; only the tests' view of its cursor differs.
 */
export function providerFor(emulator: GraphEmulator, settings: Partial<Config['microsoft']> = {}): SourceProvider<OneDriveCursor> {
  return createOneDriveProvider({ ...emulator.settings, ...settings }) as SourceProvider<OneDriveCursor>;
}

export function siteProviderFor(emulator: GraphEmulator): SourceProvider<SiteCursor> {
  return createOneDriveProvider(emulator.settings) as SourceProvider<SiteCursor>;
}

export interface Walk<C extends ChangeCursor = OneDriveCursor> {
  pages: Array<ChangePage<C>>;
  changes: SourceChange[];
  cursor: C;
}

/** Calls listChanges until the source says it has no more, as the pipeline does (cursor saved as JSON between pages). */
export async function walk<C extends ChangeCursor>(provider: SourceProvider<C>, ctx: MemorySourceContext, from: C | null): Promise<Walk<C>> {
  const pages: Array<ChangePage<C>> = [];
  let cursor = from;
  for (let i = 0; i < 100; i++) {
    const page = await provider.listChanges(ctx, cursor);
    pages.push(page);
    cursor = provider.parseCursor(JSON.parse(JSON.stringify(page.cursor)));
    if (!cursor) throw new Error(`the provider could not read back its own cursor: ${JSON.stringify(page.cursor)}`);
    if (!page.hasMore) return { pages, changes: pages.flatMap((p) => p.changes), cursor };
  }
  throw new Error('the walk never ended');
}

export const upserts = (changes: SourceChange[]): SourceItem[] => changes.flatMap((c) => (c.kind === 'upsert' ? [c.item] : []));
export const deletes = (changes: SourceChange[]): string[] => changes.flatMap((c) => (c.kind === 'delete' ? [c.sourceId] : []));
export const upsertNames = (changes: SourceChange[]): string[] => upserts(changes).map((i) => i.name).sort();

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * One Graph emulator per test file: started once, reset before every test,
 * which also gets a worker of its own (no tokens, no tenant pauses). `use`
 * receives the emulator once it is up.
 */
export function useGraphEmulator(use: (emulator: GraphEmulator) => void): void {
  let emulator: GraphEmulator | undefined;
  beforeAll(async () => {
    emulator = await startGraphEmulator();
    use(emulator);
  });
  afterAll(async () => {
    await emulator?.close();
  });
  beforeEach(() => {
    emulator?.reset();
    memory = new SourceMemory();
  });
}

/** The folders a cursor's relist queue still holds, in order (the queue is rows of the context's store, not the cursor). */
export function queuedFolders(ctx: MemorySourceContext, cursor: OneDriveCursor): string[] {
  const at = cursor.relist;
  if (at === undefined) return [];
  if (Array.isArray(at)) return at.map((t) => t.folderId);
  const rows = ctx.relistMap.get(cursor.scope)?.get(at.queue) ?? new Map<number, { folderId: string }>();
  return [...rows]
    .filter(([seq]) => seq >= at.next && seq < at.end)
    .sort(([a], [b]) => a - b)
    .map(([, t]) => t.folderId);
}
