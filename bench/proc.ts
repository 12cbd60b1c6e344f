import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

/**
 * What the benchmark reads from /proc: CPU seconds of a process tree (so
 * PostgreSQL counts every backend) and a process's peak resident set.
 */

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux the project runs on

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks: the process and its reaped children. */
  ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: parse after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const num = (i: number) => Number(fields[i - 3]);
    return { pid, ppid: num(4), ticks: num(14) + num(15) + num(16) + num(17) };
  } catch {
    return undefined;
  }
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.push(s);
  }
  return stats;
}

/**
 * CPU seconds used so far by each named process and all its descendants. A
 * descendant that exited and was waited for is in its parent's cutime/cstime,
 * so backends PostgreSQL started and ended between two readings still count.
 */
export function cpuSecondsOfTrees(roots: Record<string, number | undefined>): Record<string, number> {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const result: Record<string, number> = {};
  for (const [name, root] of Object.entries(roots)) {
    if (root === undefined || !byPid.has(root)) continue;
    let ticks = 0;
    const queue = [root];
    while (queue.length) {
      const pid = queue.pop() as number;
      ticks += byPid.get(pid)?.ticks ?? 0;
      for (const c of children.get(pid) ?? []) queue.push(c.pid);
    }
    result[name] = ticks / TICKS_PER_SECOND;
  }
  return result;
}

export function diffCpu(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(after)) out[name] = Number((seconds - (before[name] ?? 0)).toFixed(2));
  return out;
}

function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export const peakRssMiB = (pid: number) => statusKiB(pid, 'VmHWM') / 1024;
export const rssMiB = (pid: number) => statusKiB(pid, 'VmRSS') / 1024;

/** Resets VmHWM to the current RSS (Linux clear_refs 5), so each scenario gets its own peak. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The PID `scripts/stack.sh up` recorded for a server ("PID PROGRAM" in $STACK_DIR/run/NAME.pid). */
export function stackPid(stackDir: string, name: string): number | undefined {
  try {
    const [pid] = readFileSync(`${stackDir}/run/${name}.pid`, 'utf8').trim().split(/\s+/);
    const n = Number(pid);
    return Number.isInteger(n) && readStat(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
