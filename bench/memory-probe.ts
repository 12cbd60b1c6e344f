/**
 * Preloaded into the service by `npm run bench -- --memory-probe`
 * (`node --expose-gc --import ./bench/memory-probe.ts src/main.ts`): writes
 * process.memoryUsage() once a second to BENCH_MEMORY_LOG, and on SIGUSR2 a
 * line after a full garbage collection, so the live heap after each scenario
 * shows what the worker keeps, apart from what V8 has simply not collected yet.
 * With BENCH_HEAP_SNAPSHOT_DIR set, SIGUSR2 also writes a heap snapshot there.
 */
import { appendFileSync } from 'node:fs';
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
  let snapshots = 0;
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    write('after-gc');
    const dir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
    if (dir) writeHeapSnapshot(`${dir}/service-${++snapshots}.heapsnapshot`);
  });
}
