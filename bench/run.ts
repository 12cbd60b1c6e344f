/**
 * The service against the raw pipeline, side by side in one run on one stack
 * (scripts/stack.sh up) and one Graph emulator, with the same concurrency.
 *
 *   npm run bench                                  # scenarios a,b,c,d at full size
 *   npm run bench -- --scenario a --files 500      # a smoke run
 *
 * Scenarios: (a) many small files, (b) one large file, (c) a no-change resync
 * of (a)'s files, (d) medium files. For each, the baseline (bench/baseline.ts,
 * its own process) syncs a connector of its own, then the service (bridge and
 * worker in one process, `src/main.ts`, as in production) syncs another one,
 * started by a ConnectorSyncRequest on NATS. Measured for each: wall time,
 * files/s, MiB/s, source requests and downloads (emulator counters), CPU
 * seconds of every process read from /proc before and after, the worker's peak
 * RSS (VmHWM, reset before each scenario) and the workflow's history events.
 * Results go to bench/results/<label>.json and a Markdown table on stdout.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../src/config.js';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from '../src/runtime-settings.js';
import { SYNC_SUBJECTS } from '../src/contract.js';
import { createDatabase, migrateToLatest } from '../src/db/database.js';
import { ConnectorType } from '../src/gen/echomind/public/connector_pb.js';
import { ObjectStore } from '../src/storage/object-store.js';
import { envFor, syncRequestBytes } from '../test/support/service-harness.js';
import type { SyncResult } from '../workflows/definitions.js';
import type { BaselineResult } from './baseline.js';
import { ChildRpc } from './child.js';
import { git, lockStack, repoRoot, stackDir } from './run-context.js';
import type { EmulatorCounts, EmulatorReady } from './emulator-process.js';
import { cpuSecondsOfTrees, diffCpu, peakRssMiB, resetPeakRss, rssMiB, stackPid } from './proc.js';
import { markdownTable, type ScenarioReport, type SideReport } from './report.js';

// `--quota replicas|fairness` runs the quota benchmarks instead (bench/quota.ts, its own options).
const quotaBench = process.argv.includes('--quota');

const { values: args } = parseArgs({
  args: quotaBench ? [] : process.argv.slice(2),
  options: {
    scenario: { type: 'string', default: 'a,b,c,d' },
    /** (a) and (c): how many small files, and their size. */
    files: { type: 'string', default: '5000' },
    'small-kib': { type: 'string', default: '8' },
    /** (b): the one large file. */
    'large-mib': { type: 'string', default: '400' },
    /** (d): medium files. */
    'medium-files': { type: 'string', default: '200' },
    'medium-mib': { type: 'string', default: '4' },
    /** Transfers in flight per sync, for the baseline and (through BATCH_TRANSFER_CONCURRENCY: files in flight inside each batch) the service. */
    concurrency: { type: 'string', default: '8' },
    /**
     * Runtime environment of both sides, over the production one (RUNTIME_ENV in src/runtime-settings.ts),
     * e.g. "MALLOC_ARENA_MAX=8,NODE_OPTIONS=--stack-trace-limit=50"; "NAME=" drops a setting.
     */
    env: { type: 'string', default: '' },
    /** Node flags of both sides instead of the production ones (RUNTIME_NODE_FLAGS), e.g. "--max-semi-space-size=16"; "none" for Node's defaults. */
    'node-flags': { type: 'string' },
    /** Extra environment for the service only, e.g. "WORKER_TRANSFER_MEMORY_MIB=16". */
    'service-env': { type: 'string', default: '' },
    /** Name of the results file (default: the commit measured). */
    label: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    /** How the service runs: `dist` (production: `npm run build`, then node dist/src/main.js) or `src` (tsx). */
    'service-from': { type: 'string', default: 'dist' },
    /** With --service-from dist: use the dist/ already built. */
    'skip-build': { type: 'boolean', default: false },
    /**
     * Which baseline: `raw` (bench/raw-baseline.ts: a plain script without the service's modules, the
     * CPU-per-file target's reference) or `modules` (bench/baseline.ts: the service's own per-file code
     * without Temporal, which isolates what orchestration costs).
     */
    baseline: { type: 'string', default: 'raw' },
    /**
     * (a) this many times, fresh files and connectors each round, the side that goes first alternating
     * (one machine's noise moves single runs by ±15 %): the CPU ratio is then the median of the rounds'.
     */
    rounds: { type: 'string', default: '1' },
    /** Skip the baseline (tuning runs that only compare service settings; no ratio then). */
    'service-only': { type: 'boolean', default: false },
    /** Preload bench/memory-probe.ts (as JavaScript) into the service: memory once a second, and the live heap after each scenario. */
    'memory-probe': { type: 'boolean', default: false },
    /** With --memory-probe: also write a heap snapshot after start and after each scenario into this directory. */
    'heap-snapshots': { type: 'string' },
  },
});

/** "A=1,B=2" as an object. */
function keyValues(list: string): Record<string, string> {
  return Object.fromEntries(list.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

const nodeBin = `${repoRoot}node_modules/.bin/node`;
const MiB = 1024 * 1024;
/** Objects the bench removes after a run; a larger run leaves its bucket for `scripts/stack.sh clean`. */
const MAX_OBJECTS_TO_REMOVE = 250_000;
const scenarios = new Set(args.scenario.split(',').map((s) => s.trim()));
const concurrency = Number(args.concurrency);

function machine() {
  const version = (bin: string, ...a: string[]) => {
    try {
      return execFileSync(bin, a, { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '';
    } catch {
      return 'unknown';
    }
  };
  const pgVersion = (() => {
    try {
      return readFileSync(`${stackDir}/postgres/data/PG_VERSION`, 'utf8').trim();
    } catch {
      return 'unknown';
    }
  })();
  return {
    nproc: cpus().length,
    memoryGiB: Number((totalmem() / 1024 ** 3).toFixed(1)),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim(),
    temporalCli: version('temporal', '--version'),
    natsServer: version('nats-server', '--version'),
    versitygw: version('versitygw', '--version'),
    postgres: pgVersion,
  };
}

interface Ctx {
  db: ReturnType<typeof createDatabase>;
  emulator: ChildRpc<EmulatorReady>;
  baseline: ChildRpc;
  service: { pid: number };
  serviceLog: string;
  temporal: Client;
  publishSync(connectorId: number): Promise<void>;
  userId: number;
  pids: () => Record<string, number | undefined>;
}

async function addConnector(ctx: Ctx, name: string, driveId: string): Promise<number> {
  const row = await ctx.db
    .insertInto('connectors')
    .values({ name, type: 'onedrive', config: JSON.stringify({ drive_id: driveId }), user_id: ctx.userId })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

async function storedDocuments(ctx: Ctx, connectorId: number): Promise<number> {
  const r = await ctx.db.selectFrom('documents').select(ctx.db.fn.countAll<string>().as('n')).where('connector_id', '=', connectorId).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Runs `work` and measures it: wall time, CPU of every process, emulator counters. */
async function measure<T>(ctx: Ctx, work: () => Promise<T>) {
  const counts0 = await ctx.emulator.call<EmulatorCounts>({ op: 'counts' });
  const cpu0 = cpuSecondsOfTrees(ctx.pids());
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = diffCpu(cpu0, cpuSecondsOfTrees(ctx.pids()));
  const self = process.cpuUsage(self0);
  cpu.bench = Number(((self.user + self.system) / 1e6).toFixed(2));
  const counts1 = await ctx.emulator.call<EmulatorCounts>({ op: 'counts' });
  return { value, wallSeconds, cpu, requests: counts1.requests - counts0.requests, downloads: counts1.downloads - counts0.downloads };
}

function side(files: number, bytes: number, m: Awaited<ReturnType<typeof measure>>, processes: string[]): SideReport {
  const cpuMsPerFile: Record<string, number> = {};
  for (const p of processes) cpuMsPerFile[p] = Number((((m.cpu[p] ?? 0) * 1000) / files).toFixed(2));
  return {
    wallSeconds: Number(m.wallSeconds.toFixed(3)),
    filesPerSecond: Number((files / m.wallSeconds).toFixed(1)),
    mibPerSecond: Number((bytes / MiB / m.wallSeconds).toFixed(1)),
    sourceRequests: m.requests,
    sourceRequestsPerFile: Number((m.requests / files).toFixed(2)),
    downloads: m.downloads,
    cpuSeconds: m.cpu,
    cpuMsPerFile,
  };
}

async function baselineSync(ctx: Ctx, connectorId: number): Promise<BaselineResult> {
  return ctx.baseline.call<BaselineResult>({ op: 'sync', connectorId, concurrency });
}

/** Publishes a ConnectorSyncRequest as EchoMind does and waits for the run it starts (continue-as-new followed). */
async function serviceSync(ctx: Ctx, connectorId: number): Promise<{ result: SyncResult; publishedAt: Date }> {
  const publishedAt = new Date();
  await ctx.publishSync(connectorId);
  const handle = ctx.temporal.workflow.getHandle(`connector-sync-${connectorId}`);
  for (;;) {
    const d = await handle.describe().catch(() => undefined);
    if (d && d.startTime.getTime() >= publishedAt.getTime() - 1000) {
      const result = (await ctx.temporal.workflow.getHandle(d.workflowId, d.runId).result()) as SyncResult;
      return { result, publishedAt };
    }
    if (Date.now() - publishedAt.getTime() > 60_000) {
      throw new Error(`no sync workflow started within 60 s of the request for connector ${connectorId}; see the service log ${ctx.serviceLog}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Events summed over every run of this sync (continue-as-new included), from visibility. */
async function historyEvents(ctx: Ctx, connectorId: number, since: Date): Promise<{ events: number; runs: number; maxRunEvents: number }> {
  let last = { events: -1, runs: 0, maxRunEvents: 0 };
  for (let attempt = 0; attempt < 40; attempt++) {
    const now = { events: 0, runs: 0, maxRunEvents: 0 };
    let open = false;
    const query = `WorkflowId = "connector-sync-${connectorId}" AND StartTime >= "${new Date(since.getTime() - 1000).toISOString()}"`;
    for await (const w of ctx.temporal.workflow.list({ query })) {
      now.runs++;
      now.events += w.historyLength;
      now.maxRunEvents = Math.max(now.maxRunEvents, w.historyLength);
      if (w.status.name === 'RUNNING') open = true;
    }
    if (!open && now.runs > 0 && now.events === last.events) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : Number((((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2).toFixed(3));
};

/** CPU seconds of these processes together. */
const cpuTotal = (cpu: Record<string, number>, processes: string[]) => processes.reduce((sum, p) => sum + (cpu[p] ?? 0), 0);

const PROCESSES = ['worker', 'temporal', 'postgres', 'nats', 's3', 'emulator'];
const BASELINE_PROCESSES = ['baseline', 'temporal', 'postgres', 'nats', 's3', 'emulator'];

async function scenario(
  ctx: Ctx,
  key: string,
  title: string,
  shape: { files: number; sizeBytes: number; folders: number } | { resyncOf: { baseline: number; service: number; files: number; bytes: number } },
  serviceFirst = false,
): Promise<ScenarioReport & { connectors: { baseline: number; service: number } }> {
  let connectors: { baseline: number; service: number };
  let files: number;
  let bytes: number;
  if ('resyncOf' in shape) {
    connectors = { baseline: shape.resyncOf.baseline, service: shape.resyncOf.service };
    files = shape.resyncOf.files;
    bytes = 0;
  } else {
    const { driveId } = await ctx.emulator.call<{ driveId: string }>({ op: 'seed', ...shape });
    connectors = {
      baseline: await addConnector(ctx, `bench ${key} baseline`, driveId),
      service: await addConnector(ctx, `bench ${key} service`, driveId),
    };
    files = shape.files;
    bytes = shape.files * shape.sizeBytes;
  }
  const runBaseline = async () => {
    process.stderr.write(`[bench] ${key}: ${title}: baseline…\n`);
    resetPeakRss(ctx.baseline.pid);
    let baselinePeak = 0;
    const baselineSampler = setInterval(() => (baselinePeak = Math.max(baselinePeak, peakRssMiB(ctx.baseline.pid))), 250);
    const measured = await measure(ctx, () => (args['service-only'] ? Promise.resolve(undefined) : baselineSync(ctx, connectors.baseline)));
    clearInterval(baselineSampler);
    return { measured, peak: Math.max(baselinePeak, peakRssMiB(ctx.baseline.pid)) };
  };
  const runService = async () => {
    process.stderr.write(`[bench] ${key}: ${title}: service…\n`);
    const rssBefore = rssMiB(ctx.service.pid);
    resetPeakRss(ctx.service.pid);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, peakRssMiB(ctx.service.pid))), 250);
    const measured = await measure(ctx, () => serviceSync(ctx, connectors.service));
    clearInterval(sampler);
    return { measured, rssBefore, peak: Math.max(peak, peakRssMiB(ctx.service.pid)) };
  };
  const pause = () => new Promise((r) => setTimeout(r, 1000));
  let bRun: Awaited<ReturnType<typeof runBaseline>>;
  let sRun: Awaited<ReturnType<typeof runService>>;
  if (serviceFirst) {
    sRun = await runService();
    await pause();
    bRun = await runBaseline();
  } else {
    bRun = await runBaseline();
    await pause();
    sRun = await runService();
  }
  const b = bRun.measured;
  const s = sRun.measured;
  const baselinePeak = bRun.peak;
  const { rssBefore, peak } = sRun;
  const history = await historyEvents(ctx, connectors.service, s.value.publishedAt);

  const expected = 'resyncOf' in shape ? shape.resyncOf.files : shape.files;
  const stored = { baseline: await storedDocuments(ctx, connectors.baseline), service: await storedDocuments(ctx, connectors.service) };
  const problems: string[] = [];
  if (s.value.result.outcome !== 'synced') problems.push(`service sync ended ${s.value.result.outcome}: ${s.value.result.message}`);
  if (stored.baseline !== expected && !args['service-only']) problems.push(`baseline stored ${stored.baseline} of ${expected} documents`);
  if (stored.service !== expected) problems.push(`service stored ${stored.service} of ${expected} documents`);

  const baseline = side(files, bytes, b, BASELINE_PROCESSES);
  const service = side(files, bytes, s, PROCESSES);
  const report: ScenarioReport & { connectors: typeof connectors } = {
    key,
    title,
    files,
    bytes,
    baseline: { ...baseline, peakRssMiB: Number(baselinePeak.toFixed(1)) },
    service: {
      ...service,
      workerPeakRssMiB: Number(peak.toFixed(1)),
      workerRssBeforeMiB: Number(rssBefore.toFixed(1)),
      workerRssAfterMiB: Number(rssMiB(ctx.service.pid).toFixed(1)),
      historyEvents: history.events,
      workflowRuns: history.runs,
      maxEventsPerRun: history.maxRunEvents,
      historyEventsPerFile: Number((history.events / files).toFixed(2)),
      outcome: s.value.result.outcome,
      message: s.value.result.message,
    },
    ratio: {
      filesPerSecond: Number((baseline.wallSeconds / service.wallSeconds).toFixed(2)),
      // No ratio without a baseline, nor where it did no measurable work (a resync that finds nothing to do).
      ...(args['service-only'] || cpuTotal(b.cpu, BASELINE_PROCESSES) < 0.05 ? {} : { cpuPerFile: Number((cpuTotal(s.cpu, PROCESSES) / cpuTotal(b.cpu, BASELINE_PROCESSES)).toFixed(3)) }),
    },
    problems,
    connectors,
  };
  process.stderr.write(
    `[bench] ${key}: baseline ${baseline.wallSeconds}s, service ${service.wallSeconds}s (ratio ${report.ratio.filesPerSecond}), ` +
      `worker peak ${report.service.workerPeakRssMiB} MiB, ${report.service.historyEvents} events${problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''}\n`,
  );
  return report;
}

async function main(): Promise<void> {
  lockStack();
  const runId = randomUUID().slice(0, 8);
  const base = loadConfig({
    ...process.env,
    MINIO_BUCKET: `echomind-bench-${runId}`,
    TEMPORAL_TASK_QUEUE: `echomind-bench-${runId}`,
    NATS_STREAM_NAME: process.env.NATS_STREAM_NAME ?? 'ECHOMIND',
    // The emulator meters no quota here: the service runs unmetered too, so the ratio measures our code.
    SOURCE_BUDGET: process.env.SOURCE_BUDGET ?? 'per-worker',
  });
  const db = createDatabase(base.databaseUrl);
  await migrateToLatest(db);
  const user = await db.insertInto('users').values({ email: `bench-${runId}@example.test` }).returning('id').executeTakeFirstOrThrow();

  const childEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
  // Both sides run with the production runtime settings (and the same overrides).
  const runtimeEnv: Record<string, string> = Object.fromEntries(
    Object.entries<string>({ ...RUNTIME_ENV, ...keyValues(args.env) }).filter(([, value]) => value !== ''),
  );
  const nodeFlags = args['node-flags'] === undefined ? [...RUNTIME_NODE_FLAGS] : args['node-flags'].split(' ').filter((f) => f && f !== 'none');
  const emulator = ChildRpc.start<EmulatorReady>('emulator', `${repoRoot}bench/emulator-process.ts`, { execPath: nodeBin, cwd: repoRoot, env: childEnv });
  const emu = await emulator.ready;
  const config = loadConfig({
    ...envFor(base),
    MS_GRAPH_BASE_URL: emu.graphBaseUrl,
    MS_LOGIN_BASE_URL: emu.loginBaseUrl,
    MS_GRAPH_CLIENT_ID: emu.clientId,
    MS_GRAPH_CLIENT_SECRET: emu.clientSecret,
    MS_GRAPH_TENANT_ID: emu.tenantId,
  });
  const env = {
    ...childEnv,
    ...runtimeEnv,
    ...envFor(config, { LOG_LEVEL: args['log-level'], HEALTH_PORT: '0', BATCH_TRANSFER_CONCURRENCY: String(concurrency) }),
  };

  const baselineModule = { raw: 'raw-baseline.ts', modules: 'baseline.ts' }[args.baseline];
  if (!baselineModule) throw new Error(`--baseline is raw or modules, not ${args.baseline}`);
  const baseline = ChildRpc.start('baseline', `${repoRoot}bench/${baselineModule}`, {
    execPath: nodeBin,
    execArgv: nodeFlags,
    cwd: repoRoot,
    // The service's log level, so the baseline writes the same per-file log line (to nowhere).
    env,
    discardStdout: true,
  });
  await baseline.ready;

  // Sync requests left in the stream by an interrupted run would start syncs of their own in this one.
  const nats = await connect({ servers: config.nats.url, name: 'echomind-bench' });
  const js = jetstream(nats);
  const jsm = await jetstreamManager(nats);
  await jsm.streams.purge(config.nats.streamName, { filter: 'connector.sync.>' }).catch(() => undefined);

  // The service as in production: bridge and worker in one process. Its logs go to a file.
  const logPath = `/tmp/echomind-bench-${runId}.log`;
  const serviceFlags = [...nodeFlags];
  const memoryLog = args['memory-probe'] ? `/tmp/echomind-bench-${runId}.memory.jsonl` : undefined;
  if (memoryLog) {
    // Preloaded as JavaScript: a .ts preload would make Node load its TypeScript stripper (amaro, with
    // its WebAssembly) into the service's main and workflow threads, memory the service never has.
    const probe = `/tmp/echomind-bench-${runId}.memory-probe.mjs`;
    writeFileSync(probe, stripTypeScriptTypes(readFileSync(`${repoRoot}bench/memory-probe.ts`, 'utf8')));
    serviceFlags.push('--expose-gc', '--import', probe);
  }
  const { openSync } = await import('node:fs');
  const logFd = openSync(logPath, 'a');
  const fromDist = args['service-from'] === 'dist';
  if (fromDist && !args['skip-build']) {
    process.stderr.write('[bench] npm run build…\n');
    execFileSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const entry = fromDist ? ['dist/src/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  const service = spawn(nodeBin, [...serviceFlags, ...entry], {
    cwd: repoRoot,
    env: {
      ...env,
      ...keyValues(args['service-env']),
      ...(memoryLog ? { BENCH_MEMORY_LOG: memoryLog } : {}),
      ...(args['heap-snapshots'] ? { BENCH_HEAP_SNAPSHOT_DIR: args['heap-snapshots'] } : {}),
    },
    stdio: ['ignore', logFd, logFd],
  });
  const servicePid = service.pid ?? 0;

  const temporal = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
  // Ready when the worker polls: the bridge creates its consumer, the worker registers on the task queue.
  const startT = performance.now();
  for (;;) {
    const d = await temporal.workflowService
      .describeTaskQueue({ namespace: config.temporal.namespace, taskQueue: { name: config.temporal.taskQueue }, taskQueueType: 1 })
      .catch(() => undefined);
    if ((d?.pollers?.length ?? 0) > 0) break;
    if (performance.now() - startT > 180_000) throw new Error(`the worker did not poll within 3 minutes; see ${logPath}`);
    if (service.exitCode !== null) throw new Error(`the service exited at start (code ${service.exitCode}); see ${logPath}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const startupSeconds = (performance.now() - startT) / 1000;
  const rssAfterStart = rssMiB(servicePid);
  const peakAtStart = peakRssMiB(servicePid);

  const ctx0Pids = () => ({
    temporal: stackPid(stackDir, 'temporal'),
    postgres: stackPid(stackDir, 'postgres'),
    nats: stackPid(stackDir, 'nats'),
    s3: stackPid(stackDir, 's3') ?? stackPid(stackDir, 'versitygw'),
    emulator: emulator.pid,
  });
  /** With the probe: a full GC in the service, then its live heap (MiB), as the probe logged it. */
  const liveHeap = async (): Promise<{ heapUsed: number; rss: number; external: number } | undefined> => {
    if (!memoryLog) return undefined;
    service.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, args['heap-snapshots'] ? 15_000 : 1500));
    const lines = readFileSync(memoryLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tag: string; heapUsed: number; rss: number; external: number });
    const last = lines.filter((l) => l.tag === 'after-gc').at(-1);
    return last ? { heapUsed: last.heapUsed, rss: last.rss, external: last.external } : undefined;
  };
  const liveAfterStart = await liveHeap();
  // What each server spends with nothing to do (timers, housekeeping), per second: a side's CPU minus
  // this rate × its wall time is what its work cost them ("attributable" in the results).
  const idle0 = cpuSecondsOfTrees(ctx0Pids());
  await new Promise((r) => setTimeout(r, 10_000));
  const idleCpuPerSecond = Object.fromEntries(Object.entries(diffCpu(idle0, cpuSecondsOfTrees(ctx0Pids()))).map(([name, seconds]) => [name, Number((seconds / 10).toFixed(4))]));

  const ctx: Ctx = {
    db,
    emulator,
    baseline,
    service: { pid: servicePid },
    serviceLog: logPath,
    temporal,
    userId: user.id,
    publishSync: async (connectorId) => {
      await js.publish(SYNC_SUBJECTS.onedrive, syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId: user.id }));
    },
    pids: () => ({
      worker: servicePid,
      baseline: baseline.pid,
      emulator: emulator.pid,
      temporal: stackPid(stackDir, 'temporal'),
      postgres: stackPid(stackDir, 'postgres'),
      nats: stackPid(stackDir, 'nats'),
      s3: stackPid(stackDir, 's3') ?? stackPid(stackDir, 'versitygw'),
    }),
  };

  const small = Number(args.files);
  const smallBytes = Number(args['small-kib']) * 1024;
  const reports: ScenarioReport[] = [];
  const liveAfter: Record<string, unknown> = { start: liveAfterStart };
  try {
    let smallSync: { baseline: number; service: number; files: number; bytes: number } | undefined;
    if (scenarios.has('a')) {
      const rounds = Math.max(1, Number(args.rounds));
      for (let round = 1; round <= rounds; round++) {
        const key = round === 1 ? 'a' : `a${round}`;
        const r = await scenario(ctx, key, `${small.toLocaleString('en')} files of ${args['small-kib']} KiB`, { files: small, sizeBytes: smallBytes, folders: 20 }, round % 2 === 0);
        reports.push(r);
        liveAfter[key] = await liveHeap();
        smallSync ??= { ...r.connectors, files: small, bytes: 0 };
      }
    }
    if (scenarios.has('b')) {
      reports.push(await scenario(ctx, 'b', `one file of ${args['large-mib']} MiB`, { files: 1, sizeBytes: Number(args['large-mib']) * MiB, folders: 1 }));
      liveAfter.b = await liveHeap();
    }
    if (scenarios.has('c')) {
      if (!smallSync) {
        // (c) resyncs (a)'s files: without (a) in this run, do its first sync unmeasured.
        const { driveId } = await emulator.call<{ driveId: string }>({ op: 'seed', files: small, sizeBytes: smallBytes, folders: 20 });
        smallSync = { baseline: await addConnector(ctx, 'bench c baseline', driveId), service: await addConnector(ctx, 'bench c service', driveId), files: small, bytes: 0 };
        if (!args['service-only']) await baselineSync(ctx, smallSync.baseline);
        await serviceSync(ctx, smallSync.service);
      }
      reports.push(await scenario(ctx, 'c', `no-change resync of ${small.toLocaleString('en')} files`, { resyncOf: smallSync }));
      liveAfter.c = await liveHeap();
    }
    if (scenarios.has('d')) {
      const n = Number(args['medium-files']);
      reports.push(await scenario(ctx, 'd', `${n} files of ${args['medium-mib']} MiB`, { files: n, sizeBytes: Number(args['medium-mib']) * MiB, folders: 10 }));
      liveAfter.d = await liveHeap();
    }
  } finally {
    const peakOverall = Math.max(peakAtStart, ...reports.map((r) => r.service.workerPeakRssMiB ?? 0));
    service.kill('SIGTERM');
    await new Promise((r) => (service.exitCode !== null ? r(null) : service.once('exit', r)));
    await baseline.close();
    await emulator.close();
    await nats.drain();
    await temporal.connection.close();
    await db.destroy();

    const label = args.label ?? git('rev-parse', '--short', 'HEAD');
    const cpuRatios = reports.filter((r) => /^a\d*$/.test(r.key) && r.ratio.cpuPerFile !== undefined).map((r) => r.ratio.cpuPerFile as number);
    const results = {
      date: new Date().toISOString(),
      commit: git('rev-parse', 'HEAD'),
      label,
      machine: machine(),
      settings: { baseline: args.baseline, serviceOnly: args['service-only'], serviceFrom: args['service-from'], concurrency, runtimeEnv, nodeFlags, serviceEnv: args['service-env'], logLevel: args['log-level'] },
      serviceStart: { seconds: Number(startupSeconds.toFixed(1)), rssMiB: Number(rssAfterStart.toFixed(1)), peakRssMiB: Number(peakAtStart.toFixed(1)) },
      workerPeakRssOverallMiB: Number(peakOverall.toFixed(1)),
      idleCpuPerSecond,
      scenarios: reports,
      ...(cpuRatios.length > 1 ? { cpuRatioOfA: { rounds: cpuRatios, median: median(cpuRatios) } } : {}),
      ...(memoryLog ? { liveHeapAfterGcMiB: liveAfter, memoryLog } : {}),
      serviceLog: logPath,
    };
    mkdirSync(`${repoRoot}bench/results`, { recursive: true });
    const file = `${repoRoot}bench/results/${label}-${[...scenarios].sort().join('')}.json`;
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`${markdownTable(results)}\n\nwritten to ${file}\n`);
    if (reports.some((r) => r.problems.length)) process.exitCode = 1;

    // Leave no objects behind, once the results are safe: the run's objects are removed. Listing a
    // bucket of a million objects through the local S3 gateway takes longer than the run itself,
    // so past MAX_OBJECTS_TO_REMOVE the bench says where they are instead.
    const stored = reports.reduce((n, r) => n + r.service.downloads + r.baseline.downloads, 0);
    if (stored > MAX_OBJECTS_TO_REMOVE) {
      process.stderr.write(`[bench] left ${stored.toLocaleString('en')} objects in bucket ${config.objectStore.bucket}: \`bash scripts/stack.sh clean\` (stack stopped) removes the stack's data\n`);
    } else {
      const store = new ObjectStore(config.objectStore);
      const keys = await store.listKeys('').catch(() => [] as string[]);
      for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => store.remove(k).catch(() => undefined)));
    }
  }
}

(quotaBench ? import('./quota.js').then((m) => m.main()) : main()).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
