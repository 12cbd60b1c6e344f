/**
 * Shows why the worker's RSS follows its heap's high-water mark rather than its live heap: V8
 * (Node 24) keeps the 256 KiB pages a collection frees in a pool for reuse, resident, and hands
 * them back to the system only on a memory-reducing collection (memory pressure, or its memory
 * reducer on an idle isolate). A busy worker never gets one.
 *
 *   node_modules/.bin/node --expose-gc --max-semi-space-size=4 --heap-growing-percent=25 bench/v8-page-pool.ts
 *
 * It fills ~250 MiB of heap, drops it, collects, and prints the heap V8 reports against the
 * resident 256 KiB anonymous mappings of the process (/proc/self/smaps) after each step.
 */
import { readFileSync } from 'node:fs';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function heapPagesMiB(): number {
  let kib = 0;
  let page = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      page = head[3] === '' && parseInt(head[2] ?? '0', 16) - parseInt(head[1] ?? '0', 16) === 256 * 1024;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && page) kib += Number(rss[1]);
  }
  return kib / 1024;
}

function report(step: string): void {
  const m = process.memoryUsage();
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1).padStart(6);
  console.log(`${step.padEnd(28)} rss ${mib(m.rss)} MiB  heapTotal ${mib(m.heapTotal)}  heapUsed ${mib(m.heapUsed)}  resident 256 KiB pages ${heapPagesMiB().toFixed(1).padStart(6)}`);
}

report('start');
/** Fills the heap and reports; everything it made is garbage once it returns. */
function fill(): number {
  const kept = Array.from({ length: 200 }, () => Array.from({ length: 20_000 }, (_, i) => ({ i, s: `x${i}` })));
  report('~250 MiB allocated');
  return kept.length;
}
fill();
gc();
report('dropped, full collection');
await new Promise((r) => setTimeout(r, 10_000));
gc();
report('10 s later, collected again');
