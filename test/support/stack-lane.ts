import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { processAlive } from './integration.js';

/**
 * Setup file of the stack suites when `npm test` runs them in lanes
 * (scripts/test.sh, vitest.config.ts): before the test file loads, it takes a
 * stack no other file is using (lane k's settings are in TEST_LANE_ENV_k) and
 * points the file's settings at it; after the
 * file, the stack is free again. The suites of one stack share its tables,
 * stream and namespace, so a stack serves one file at a time.
 */

function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) env[m[1]] = m[2] ?? '';
  }
  return env;
}

/**
 * Takes a lane's lock file, or one a dead process left; false while a live file holds it. The
 * lock is written whole under another name and linked into place (link fails when the name
 * exists), so no reader ever sees a lock without its holder's PID.
 */
function tryLock(path: string): boolean {
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, String(process.pid));
  try {
    linkSync(mine, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const holder = Number(readFileSync(path, 'utf8'));
    if (processAlive(holder)) return false;
    // Left by a test process that died: take it over (rename replaces it in one step).
    renameSync(mine, path);
    return readFileSync(path, 'utf8') === String(process.pid);
  } finally {
    rmSync(mine, { force: true });
  }
}

const lockDir = process.env.TEST_LANE_LOCK_DIR;
if (!lockDir) throw new Error('test/support/stack-lane.ts needs TEST_LANE_LOCK_DIR (scripts/test.sh sets it)');
mkdirSync(lockDir, { recursive: true });
const lanes = Object.keys(process.env)
  .filter((k) => /^TEST_LANE_ENV_\d+$/.test(k))
  .sort()
  .map((k) => parseExports(process.env[k] ?? ''));

/** Waits for a free lane and takes it; its index. */
async function takeLane(): Promise<number> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const free = lanes.findIndex((_, i) => tryLock(join(lockDir ?? '', `lane-${i + 1}`)));
    if (free >= 0) return free;
    if (Date.now() > deadline) throw new Error(`no stack lane came free in 30 minutes (${lockDir})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const free = await takeLane();
const held = join(lockDir, `lane-${free + 1}`);
Object.assign(process.env, lanes[free]);

// Frees the lane after the file, unless it is no longer ours (a lock is only ever taken over from
// a dead process, so this is a guard, not a race). Nothing is freed at process exit: by then
// another file may hold the lane; a lock left by a process that died is taken over by the next.
afterAll(() => {
  if (readFileSync(held, 'utf8') === String(process.pid)) unlinkSync(held);
});
