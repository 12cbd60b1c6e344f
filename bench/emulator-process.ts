/**
 * The Graph emulator in its own process (forked by bench/run.ts), so its CPU
 * is measured apart and neither the baseline nor the service shares a thread
 * with it. Driven over the IPC channel: `seed` builds a drive, `counts` reads
 * how many requests and downloads it answered so far.
 */
import { randomBytes } from 'node:crypto';
import { startGraphEmulator } from '../test/emulators/graph/index.js';
import type { StoredItem } from '../test/emulators/graph/store.js';
import { serveRequests } from './child.js';

export type EmulatorCommand =
  | { op: 'seed'; files: number; sizeBytes: number; folders: number }
  | { op: 'counts' }
  | { op: 'close' };

export interface EmulatorReady {
  graphBaseUrl: string;
  loginBaseUrl: string;
  clientId: string;
  clientSecret: string;
  tenantId: string;
}

export interface EmulatorCounts {
  requests: number;
  downloads: number;
}

const emu = await startGraphEmulator();

/**
 * Distinct bytes for every file without holding N copies: each file is a
 * different window of one random pool (the store copies it once).
 */
function contentPool(sizeBytes: number): (i: number) => Buffer {
  const pool = randomBytes(sizeBytes + 64 * 1024);
  return (i) => pool.subarray((i * 4099) % (64 * 1024), ((i * 4099) % (64 * 1024)) + sizeBytes);
}

const EMPTY = Buffer.alloc(0);

/**
 * A drive of `files` files, cheap enough for a million: each file's bytes are a window of the
 * pool, not a copy (`addFile` copies what it is given, so it gets an empty body and the window
 * replaces it, in the item and its logged snapshot alike), and the seeding logs each file alone,
 * without re-logging its folder and the root: the syncs measured list the drive from scratch
 * (delta without a token walks the live tree) and resync from a token taken after the seeding,
 * so no delta ever replays the seeding's log.
 */
function seed(files: number, sizeBytes: number, folders: number): { driveId: string } {
  const store = emu.store;
  const drive = store.createDrive();
  const root = store.items.get(drive.rootId);
  if (!root) throw new Error('the new drive has no root');
  const folderIds = Array.from({ length: folders }, (_, i) => store.addFolder(root.id, `f${i}`).id);
  const bytesFor = contentPool(sizeBytes);
  const emitAncestors = store.emitAncestors;
  store.emitAncestors = false;
  try {
    for (let i = 0; i < files; i++) {
      const item = store.addFile(folderIds[i % folders] as string, `doc-${i}.txt`, EMPTY, { driveId: drive.id });
      item.content = bytesFor(i);
      const logged: StoredItem | undefined = store.log.at(-1)?.snapshot;
      if (logged?.id === item.id) logged.content = item.content;
    }
  } finally {
    store.emitAncestors = emitAncestors;
  }
  return { driveId: drive.id };
}

/**
 * Requests answered so far. The emulator records every request; a million-file sync makes
 * millions, so the records are folded into these totals once a second and dropped.
 */
const totals: EmulatorCounts = { requests: 0, downloads: 0 };
function counts(): EmulatorCounts {
  const records = emu.requests.splice(0);
  totals.requests += records.length;
  for (const r of records) if (r.path.startsWith('/download/')) totals.downloads++;
  return { ...totals };
}
setInterval(counts, 1000).unref();

serveRequests<EmulatorCommand>(
  (command) => (command.op === 'seed' ? seed(command.files, command.sizeBytes, command.folders) : counts()),
  () => emu.close(),
  { ...emu.settings } satisfies EmulatorReady,
);
