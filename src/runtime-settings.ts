/**
 * How the service's Node process runs in production: the Dockerfile's ENV and
 * CMD, docker-compose.yml and `npm start` carry these (test/deploy/compose.test.ts
 * and test/integration/built-service.test.ts check that they agree), and the benchmark runs both its sides with them.
 * Measured on the 2-core machine (bench/README.md, "Worker memory" and "Worker
 * memory: what holds the RSS"): with these settings the worker peaked at 241,
 * 298, 282 and 327 MiB over the benchmark's four scenarios
 * (bench/results/final-hgp25-abcd.json; the 4 MiB files of the last are over
 * 300 MB) and at 250.7 MiB, flat, over a first sync of 1,000,000 small files
 * (bench/results/large-1m-v2-summary.json); it was 512-690 MiB with Node's
 * defaults and bodies held in memory (bench/results/batching-final-abcd.json),
 * for about the same CPU per file. None of them caps the heap.
 *
 * - `--max-semi-space-size=4` (MiB): V8 sizes the young generation from the
 *   machine's memory; on 24 GiB it grew to 128 MiB in the main thread and
 *   32 MiB in the workflow thread, while the live heap is ~50 MiB. A file's
 *   short-lived objects die young either way.
 * - `--heap-growing-percent=25`: after a full collection V8 lets the old
 *   generation grow by a factor it picks between 1.1 and 4 from its own speed;
 *   with a steady stream of transfers it picked high and let garbage reach
 *   ~140 MiB over a ~60 MiB live heap. A fixed 1.25 keeps the headroom in
 *   proportion; the live heap can still grow as far as it needs. The headroom
 *   matters twice: V8 (Node 24) keeps the pages a collection frees in a pool
 *   for reuse and returns them to the system only on a memory-reducing
 *   collection, which a busy worker never gets, so the process's RSS follows
 *   the heap's high-water mark, not its live size. 1.5 → 1.25 lowered the
 *   worker's peak over 100,000 files from 277 to 252 MiB for about 3 % more
 *   worker CPU per file (bench/README.md, "Worker memory: what holds the RSS").
 * - MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own arena
 *   (up to 8 per core: Temporal's Rust threads, libuv's pool), and memory
 *   freed in one is kept there. Two arenas keep it where it is reused.
 * - MALLOC_MMAP_THRESHOLD_=131072: fixed, so glibc does not raise it after a
 *   large buffer is freed; file bodies keep getting their own mappings and go
 *   back to the system when freed.
 */
export const RUNTIME_NODE_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=25'] as const;

export const RUNTIME_ENV = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
} as const satisfies Record<string, string>;
