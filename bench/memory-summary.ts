/**
 * Summarises a `--memory-probe` log against its results file: the worker's RSS over the first
 * sync by tenth of its time (with a steady rate, a tenth of the files each), where its peak was,
 * how large the V8 heaps were then, and what /proc/self/smaps held by kind.
 *
 *   npx tsx bench/memory-summary.ts --results bench/results/large-1m-v2-ac.json [--out FILE]
 *
 * The log is the one the results file names (`memoryLog`); the first sync is scenario (a), which
 * ends at the probe's second full-collection line (the first is after start).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Tick {
  t: number;
  tag: 'tick' | 'after-gc';
  thread: string;
  rss: number;
  heapTotal: number;
  heapUsed: number;
}
interface Smaps {
  t: number;
  tag: 'smaps';
  rssMiB: Record<string, number>;
}
type Line = Tick | Smaps;

interface Results {
  commit: string;
  label: string;
  date: string;
  memoryLog?: string;
  scenarios: { key: string; files: number; service: { wallSeconds: number; historyEvents: number; workflowRuns: number; maxEventsPerRun: number; workerPeakRssMiB: number } }[];
}

const { values: args } = parseArgs({ options: { results: { type: 'string' }, log: { type: 'string' }, out: { type: 'string' } } });
if (!args.results) throw new Error('--results bench/results/<label>-ac.json is required');
const results = JSON.parse(readFileSync(args.results, 'utf8')) as Results;
const logPath = args.log ?? results.memoryLog;
if (!logPath) throw new Error('the results file names no memory log (run the bench with --memory-probe), and --log was not given');
const lines = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
const first = results.scenarios.find((s) => s.key === 'a');
if (!first) throw new Error('the results file has no scenario (a)');

const ticks = lines.filter((l): l is Tick => l.tag !== 'smaps');
const main = ticks.filter((l) => l.thread === 'main' && l.tag === 'tick');
const workflowThread = ticks.filter((l) => l.thread !== 'main' && l.tag === 'tick');
const gcs = ticks.filter((l) => l.thread === 'main' && l.tag === 'after-gc');
const smaps = lines.filter((l): l is Smaps => l.tag === 'smaps');
const end = gcs[1]?.t;
if (end === undefined) throw new Error('the log has no full-collection line after scenario (a)');
const start = end - first.service.wallSeconds * 1000;
const round = (n: number) => Number(n.toFixed(1));
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : 0);
const min = (xs: number[]) => (xs.length ? Math.min(...xs) : 0);
const nearest = <T extends { t: number }>(xs: T[], t: number): T | undefined => xs.reduce<T | undefined>((best, x) => (!best || Math.abs(x.t - t) < Math.abs(best.t - t) ? x : best), undefined);

const tenths = Array.from({ length: 10 }, (_, i) => {
  const from = start + ((end - start) * i) / 10;
  const to = start + ((end - start) * (i + 1)) / 10;
  const inMain = main.filter((l) => l.t >= from && l.t < to);
  const inWorkflow = workflowThread.filter((l) => l.t >= from && l.t < to);
  const lastSmaps = smaps.filter((l) => l.t < to).at(-1);
  return {
    filesApprox: `${(first.files * i) / 10 / 1000}k-${(first.files * (i + 1)) / 10 / 1000}k`,
    rssMaxMiB: round(max(inMain.map((l) => l.rss))),
    rssMinMiB: round(min(inMain.map((l) => l.rss))),
    mainHeapTotalMaxMiB: round(max(inMain.map((l) => l.heapTotal))),
    workflowThreadHeapTotalMaxMiB: round(max(inWorkflow.map((l) => l.heapTotal))),
    smapsAtEndMiB: lastSmaps?.rssMiB,
  };
});
const during = main.filter((l) => l.t >= start && l.t <= end);
const peak = during.reduce<Tick | undefined>((best, l) => (!best || l.rss > best.rss ? l : best), undefined);
const afterSync = main.filter((l) => l.t > end);

const summary = {
  run: `npm run bench -- --service-only --memory-probe --scenario a,c --files ${first.files} --label ${results.label}`,
  date: results.date,
  commit: results.commit,
  note: 'Written by bench/memory-summary.ts from the memory probe log (one sample a second in each thread, smaps every 5 s) and the results file.',
  firstSyncSeconds: first.service.wallSeconds,
  files: first.files,
  workerRss: {
    peakMiB: round(peak?.rss ?? 0),
    peakAtSecond: Math.round(((peak?.t ?? start) - start) / 1000),
    atPeak: peak && {
      mainHeapTotalMiB: peak.heapTotal,
      workflowThreadHeapTotalMiB: nearest(workflowThread, peak.t)?.heapTotal,
      smapsMiB: nearest(smaps, peak.t)?.rssMiB,
    },
    byTenthOfFirstSync: tenths,
    afterFirstSyncMaxMiB: round(max(afterSync.map((l) => l.rss))),
  },
  liveHeapAfterFullGc: gcs.map((l, i) => ({ after: ['start', 'first sync', 'resync'][i] ?? `scenario ${i}`, rssMiB: l.rss, heapUsedMiB: l.heapUsed })),
  history: { runs: first.service.workflowRuns, largestRunEvents: first.service.maxEventsPerRun, totalEvents: first.service.historyEvents },
};
const text = `${JSON.stringify(summary, null, 2)}\n`;
if (args.out) writeFileSync(args.out, text);
process.stdout.write(text);
