import { MockActivityEnvironment } from '@temporalio/testing';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import type { Database } from '../../src/db/schema.js';
import { createOneDriveProvider } from '../../src/providers/microsoft-graph/onedrive/provider.js';
import { SourceMemory } from '../../src/providers/source-memory.js';
import type { ListedPage } from '../../workflows/definitions.js';
import { type GraphEmulator, startGraphEmulator } from '../emulators/graph/index.js';
import { activityDeps, connector, emptyTables, MemoryBucket, MemoryJetStream, memoryDatabase, ScriptedSource } from './harness.js';

/**
 * A large folder tree moved into a OneDrive folder scope: delta does not re-emit its children, so
 * every subfolder is queued and listed with `/children`. The queue lives in
 * `connector_sync.relist_tasks`; the state saved with each page (and carried in the workflow
 * history) names only its position. Real planPage and commitPage activities, PGlite, the Graph emulator.
 */

const SUBFOLDERS = 60;

let db: Kysely<Database>;
let emulator: GraphEmulator;
let connectorId: number;
const env = new MockActivityEnvironment();
const plan = (activities: ReturnType<typeof worker>): Promise<ListedPage> => env.run(activities.planPage, { connectorId });

beforeAll(async () => {
  db = await memoryDatabase();
  emulator = await startGraphEmulator();
});

afterAll(async () => {
  await emulator?.close();
  await db?.destroy();
});

beforeEach(async () => {
  await emptyTables(db);
  await sql`truncate connector_sync.source_items, connector_sync.relist_tasks`.execute(db);
  emulator.reset();
  connectorId = await connector(db);
  await db
    .updateTable('connectors')
    .set({ config: JSON.stringify({ drive_id: emulator.drive.id, folder_path: '/Scope' }) })
    .where('id', '=', connectorId)
    .execute();
});

/** A worker: its own SourceMemory (tokens, pauses), the activities the real one runs. */
function worker() {
  const deps = { ...activityDeps(db, new MemoryBucket(), new MemoryJetStream(), new ScriptedSource()), sourceMemory: new SourceMemory() };
  return createActivities({ ...deps, providers: { onedrive: createOneDriveProvider(emulator.settings) } });
}

interface Committed {
  page: ListedPage;
  /** `connectors.state` as saved after the page. */
  savedState: string;
  /** Rows of the relist queue once the page is committed. */
  queuedRows: number;
}

/** The workflow's loop for one page: plan, then (the transfers left out) commit the state it returned. */
async function planAndCommit(activities: ReturnType<typeof worker>): Promise<Committed> {
  const page = await plan(activities);
  await env.run(activities.commitPage, {
    connectorId,
    state: page.cursor,
    failed: [],
    cleared: [],
    ...(page.sweepGeneration ? { sweepGeneration: page.sweepGeneration } : {}),
  });
  const row = await db.selectFrom('connectors').select('state').where('id', '=', connectorId).executeTakeFirstOrThrow();
  const queued = await db.selectFrom('connector_sync.relist_tasks').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return { page, savedState: JSON.stringify(row.state), queuedRows: Number(queued.n) };
}

async function syncToEnd(activities: ReturnType<typeof worker>, pages: Committed[] = []): Promise<Committed[]> {
  for (let i = 0; i < 500; i++) {
    const committed = await planAndCommit(activities);
    pages.push(committed);
    if (!committed.page.hasMore) return pages;
  }
  throw new Error('the sync never ended');
}

const transferred = (pages: Committed[]) => pages.flatMap((p) => p.page.transfers.map((t) => t.name));

function seedMovedTree(): string[] {
  emulator.addFolder('/', 'Scope');
  emulator.addFile('/Scope', 'inside.txt', 'already in scope');
  emulator.addFolder('/', 'Outside');
  emulator.addFolder('/Outside', 'Big');
  const names: string[] = [];
  for (let i = 0; i < SUBFOLDERS; i++) {
    const name = `part-${String(i).padStart(2, '0')}`;
    emulator.addFolder('/Outside/Big', name);
    emulator.addFile(`/Outside/Big/${name}`, `${name}.txt`, `bytes of ${name}`);
    names.push(`${name}.txt`);
  }
  emulator.addFolder('/Outside/Big/part-00', 'nested');
  emulator.addFile('/Outside/Big/part-00/nested', 'deep.txt', 'a level further down');
  return [...names, 'deep.txt'];
}

describe('the relist queue of a large moved tree lives in our schema, not in connectors.state', () => {
  it('lists every file of the moved tree while the saved state and the history carry only the queue position', async () => {
    const moved = seedMovedTree();
    const activities = worker();
    expect(transferred(await syncToEnd(activities))).toEqual(['inside.txt']);

    emulator.move('/Outside/Big', '/Scope');
    const pages = await syncToEnd(activities);

    expect(transferred(pages).sort()).toEqual(moved.sort());
    expect(Math.max(...pages.map((p) => p.queuedRows))).toBeGreaterThanOrEqual(SUBFOLDERS); // the queue was in the table
    // ~100 bytes a queued folder would be 6 KB in every saved state and every page in the history.
    expect(Math.max(...pages.map((p) => p.savedState.length))).toBeLessThan(1500);
    expect(Math.max(...pages.map((p) => JSON.stringify(p.page.cursor).length))).toBeLessThan(1500);
    // Done tasks are dropped as the queue advances; at most the last one stays (a retry of the last page needs it).
    expect(pages.at(-1)?.queuedRows).toBeLessThanOrEqual(1);
  });

  it('a worker that dies mid-queue loses nothing: the next worker lists from the committed position, and no file is missed', async () => {
    const moved = seedMovedTree();
    expect(transferred(await syncToEnd(worker()))).toEqual(['inside.txt']);
    emulator.move('/Outside/Big', '/Scope');

    const first = worker();
    const pages: Committed[] = [];
    for (let i = 0; i < 10; i++) pages.push(await planAndCommit(first));
    expect(pages.at(-1)?.page.hasMore).toBe(true);
    // The worker lists the next page (its queue rows written) and dies before the page is committed.
    const lost = await plan(first);
    expect(lost.transfers.length).toBeGreaterThan(0);

    const pagesAfter = await syncToEnd(worker(), pages);

    expect(transferred(pagesAfter).sort()).toEqual(moved.sort()); // each once: the lost page is listed again, nothing else
    const state = pagesAfter.at(-1)?.page.cursor.cursor as { relist?: unknown } | null;
    expect(state?.relist).toBeUndefined();
  });
});
