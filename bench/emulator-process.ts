/**
 * The Graph emulator in its own process (forked by bench/run.ts), so its CPU
 * is measured apart and neither the baseline nor the service shares a thread
 * with it. Driven over the IPC channel: `seed` builds a drive, `counts` reads
 * how many requests and downloads it answered so far.
 */
import { randomBytes } from 'node:crypto';
import { startGraphEmulator } from '../test/emulators/graph/index.js';

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

function seed(files: number, sizeBytes: number, folders: number): { driveId: string } {
  const drive = emu.store.createDrive();
  const root = emu.store.items.get(drive.rootId);
  if (!root) throw new Error('the new drive has no root');
  const folderIds = Array.from({ length: folders }, (_, i) => emu.store.addFolder(root.id, `f${i}`).id);
  const bytesFor = contentPool(sizeBytes);
  for (let i = 0; i < files; i++) {
    emu.store.addFile(folderIds[i % folders] as string, `doc-${i}.txt`, bytesFor(i), { driveId: drive.id });
  }
  return { driveId: drive.id };
}

function counts(): EmulatorCounts {
  return { requests: emu.requests.length, downloads: emu.requests.filter((r) => r.path.startsWith('/download/')).length };
}

process.on('message', (message: EmulatorCommand & { id: number }) => {
  const reply = (body: unknown) => process.send?.({ id: message.id, body });
  try {
    if (message.op === 'seed') reply(seed(message.files, message.sizeBytes, message.folders));
    else if (message.op === 'counts') reply(counts());
    else {
      void emu.close().then(() => {
        reply({});
        process.disconnect();
      });
    }
  } catch (e) {
    process.send?.({ id: message.id, error: e instanceof Error ? e.message : String(e) });
  }
});

process.send?.({ id: 0, body: { ...emu.settings } satisfies EmulatorReady });
