import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What every benchmark of this folder (bench/run.ts, bench/quota.ts) shares about where and what it runs. */
export const repoRoot = fileURLToPath(new URL('../', import.meta.url));
export const stackDir = process.env.STACK_DIR ?? `${repoRoot}.stack`;

/** A git answer for the results file, or 'unknown' outside a checkout. */
export function git(...a: string[]): string {
  try {
    return execFileSync('git', a, { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * One benchmark per stack at a time: every run's bridge reads the same durable
 * consumer, so two runs would sync each other's connectors and mix their figures.
 */
export function lockStack(): void {
  const lock = `${stackDir}/run/bench.lock`;
  try {
    const pid = Number(readFileSync(lock, 'utf8'));
    process.kill(pid, 0);
    throw new Error(`another benchmark (pid ${pid}) is running on this stack (${stackDir}); run one at a time`);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('another benchmark')) throw e;
  }
  mkdirSync(`${stackDir}/run`, { recursive: true });
  writeFileSync(lock, String(process.pid));
  process.on('exit', () => rmSync(lock, { force: true }));
}
