/**
 * Preloaded into the service by `npm run bench -- --memory-probe`
 * (as JavaScript, its types stripped by bench/run.ts: a TypeScript preload would
 * load Node's type stripper, amaro, into every thread of the service): writes
 * process.memoryUsage() once a second to BENCH_MEMORY_LOG, and on SIGUSR2 a
 * line after a full garbage collection, so the live heap after each scenario
 * shows what the worker keeps, apart from what V8 has simply not collected yet.
 * With BENCH_HEAP_SNAPSHOT_DIR set, SIGUSR2 also writes a heap snapshot there.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';

const out = process.env.BENCH_MEMORY_LOG;
if (out) {
  const write = (tag: string) => {
    const m = process.memoryUsage();
    const mib = (n: number) => Number((n / 1024 / 1024).toFixed(1));
    appendFileSync(
      out,
      `${JSON.stringify({
        t: Date.now(),
        tag,
        thread: isMainThread ? 'main' : `worker-${threadId}`,
        rss: mib(m.rss),
        heapTotal: mib(m.heapTotal),
        heapUsed: mib(m.heapUsed),
        external: mib(m.external),
        arrayBuffers: mib(m.arrayBuffers),
        // Committed size of each V8 heap space (new, old, code, large objects...): which one holds the headroom.
        spaces: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), mib(s.space_size)])),
      })}\n`,
    );
  };
  setInterval(() => write('tick'), 1000).unref();
  // Every 5 s from the main thread: the process's resident memory by kind of mapping (/proc/self/smaps),
  // so native memory can be told apart: glibc's main arena ([heap]), V8's heap pages (256 KiB each,
  // including the pages V8 keeps pooled after a collection), other anonymous mappings by size (glibc's
  // thread arenas are 64 MiB reservations), and files (the node binary, Temporal's core library).
  if (isMainThread && process.platform === 'linux') {
    const smaps = () => {
      const kib: Record<string, number> = {};
      let name = '';
      for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
        const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
        if (head) {
          const sizeKiB = (parseInt(head[2] ?? '0', 16) - parseInt(head[1] ?? '0', 16)) / 1024;
          const file = head[3] ?? '';
          name = file === '' ? (sizeKiB === 256 ? 'v8-pages' : sizeKiB >= 60 * 1024 ? 'anon>=60MiB' : sizeKiB >= 8 * 1024 ? 'anon8-60MiB' : sizeKiB >= 1024 ? 'anon1-8MiB' : 'anon<1MiB') : file.startsWith('[') ? file : (file.split('/').at(-1) ?? file);
          continue;
        }
        const rss = /^Rss:\s+(\d+) kB/.exec(line);
        if (rss) kib[name] = (kib[name] ?? 0) + Number(rss[1]);
      }
      const top = Object.entries(kib).filter(([, v]) => v >= 1024).sort((a, b) => b[1] - a[1]);
      appendFileSync(out, `${JSON.stringify({ t: Date.now(), tag: 'smaps', rssMiB: Object.fromEntries(top.map(([k, v]) => [k, Number((v / 1024).toFixed(1))])) })}\n`);
    };
    setInterval(smaps, 5000).unref();
  }
  let snapshots = 0;
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    write('after-gc');
    // The whole map after the collection, for diffing one scenario's end against the start.
    if (isMainThread && process.env.BENCH_SMAPS_DUMP && process.platform === 'linux') {
      appendFileSync(process.env.BENCH_SMAPS_DUMP, `${JSON.stringify({ t: Date.now(), smaps: readFileSync('/proc/self/smaps', 'utf8') })}\n`);
    }
    const dir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
    if (dir) writeHeapSnapshot(`${dir}/service-${++snapshots}.heapsnapshot`);
  });
}
