/**
 * The quota benchmarks: replicas sharing one tenant's SharePoint budget, and
 * fairness inside and across tenants, on the real local stack
 * (scripts/stack.sh up) against the Graph emulator with its resource-unit
 * quota on (bench/quota-emulator.ts, its own process). The service runs as N
 * replicas (`node dist/src/main.js`, bridge and worker each, as in production).
 *
 *   npm run bench -- --quota replicas                                  # 3 replicas, 6 connectors, 30,000 files
 *   npm run bench -- --quota replicas --source-budget per-worker       # the same with each worker on its own
 *   npm run bench -- --quota fairness                                  # a 100,000-file backfill beside small syncs
 *
 * Results: bench/results/quota-<scenario>-<label>.json and a Markdown summary on stdout.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection, WorkflowIdReusePolicy } from '@temporalio/client';
import { sql } from 'kysely';
import { describeRun } from '../src/bridge/run-description.js';
import { loadConfig, type Config } from '../src/config.js';
import { SYNC_SUBJECTS } from '../src/contract.js';
import { createDatabase, migrateToLatest } from '../src/db/database.js';
import { ConnectorType } from '../src/gen/echomind/public/connector_pb.js';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from '../src/runtime-settings.js';
import { ObjectStore } from '../src/storage/object-store.js';
import { envFor, syncRequestBytes } from '../test/support/service-harness.js';
import type { SyncResult } from '../workflows/definitions.js';
import { ChildRpc } from './child.js';
import { git, lockStack, repoRoot } from './run-context.js';
import { peakRssMiB } from './proc.js';
import type { QuotaEmulatorCounts, QuotaEmulatorReady, TenantApp, TenantCounts } from './quota-emulator.js';

const nodeBin = `${repoRoot}node_modules/.bin/node`;

const { values: args } = parseArgs({
  options: {
    /** Which benchmark: `replicas` or `fairness`. */
    quota: { type: 'string', default: 'replicas' },
    /** `shared` (the default) or `per-worker` (each replica keeps its own budget: the old behaviour). */
    'source-budget': { type: 'string', default: 'shared' },
    replicas: { type: 'string', default: '3' },
    /** Resource units per minute of each tenant, in the emulator and in the service's settings. */
    'units-per-minute': { type: 'string' },
    /** Length of the quota "minute" (ms), in the emulator and in the service (SOURCE_QUOTA_WINDOW_MS). */
    'window-ms': { type: 'string', default: '60000' },
    'small-kib': { type: 'string', default: '8' },
    /** replicas: connectors of the one tenant, and files over all of them. */
    connectors: { type: 'string', default: '6' },
    files: { type: 'string', default: '30000' },
    /** fairness: the backfill's files, the small connectors of its tenant, changes per small sync, the other tenant's connectors. */
    'backfill-files': { type: 'string', default: '100000' },
    small: { type: 'string', default: '20' },
    changes: { type: 'string', default: '10' },
    'other-tenant': { type: 'string', default: '5' },
    label: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    'skip-build': { type: 'boolean', default: false },
  },
  // bench/run.ts hands its whole command line over (`--quota` picks this file).
  strict: false,
});
const opt = (name: keyof typeof args): string => String(args[name]);
const num = (name: keyof typeof args): number => Number(args[name]);

const MINUTE = 60_000;

// ---- the stack, the emulator and the replicas ---------------------------------

interface Bench {
  config: Config;
  db: ReturnType<typeof createDatabase>;
  emulator: ChildRpc<QuotaEmulatorReady>;
  tenants: { a: TenantApp; b: TenantApp };
  temporal: Client;
  replicas: Array<{ child: ChildProcess; log: string }>;
  userId: number;
  publish(connectorId: number): Promise<void>;
  windowMs: number;
  nats: { drain(): Promise<void> };
}


async function startBench(unitsPerMinute: number, runId: string): Promise<Bench> {
  const windowMs = num('window-ms');
  const childEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
  const emulator = ChildRpc.start<QuotaEmulatorReady>('emulator', `${repoRoot}bench/quota-emulator.ts`, { execPath: nodeBin, cwd: repoRoot, env: childEnv });
  const emu = await emulator.ready;
  // The emulator's "minute" is as long as the service's: one budget per window for every tenant.
  await emulator.call({ op: 'quota', unitsPerWindow: unitsPerMinute, windowMs });
  const { a, b } = emu.tenants;
  const config = loadConfig({
    ...process.env,
    MINIO_BUCKET: `echomind-bench-${runId}`,
    TEMPORAL_TASK_QUEUE: `echomind-bench-${runId}`,
    NATS_STREAM_NAME: process.env.NATS_STREAM_NAME ?? 'ECHOMIND',
    MS_GRAPH_BASE_URL: emu.graphBaseUrl,
    MS_LOGIN_BASE_URL: emu.loginBaseUrl,
    MS_GRAPH_CLIENT_ID: a.clientId,
    MS_GRAPH_CLIENT_SECRET: a.clientSecret,
    MS_GRAPH_TENANT_ID: a.tenantId,
    SOURCE_BUDGET: opt('source-budget'),
    SHAREPOINT_TENANT_UNITS_PER_MINUTE: `${a.tenantId}=${unitsPerMinute},${b.tenantId}=${unitsPerMinute}`,
    SOURCE_QUOTA_WINDOW_MS: String(windowMs),
  });
  const db = createDatabase(config.databaseUrl);
  await migrateToLatest(db);
  const user = await db.insertInto('users').values({ email: `bench-${runId}@example.test` }).returning('id').executeTakeFirstOrThrow();

  const nats = await connect({ servers: config.nats.url, name: 'echomind-quota-bench' });
  const js = jetstream(nats);
  const jsm = await jetstreamManager(nats);
  await jsm.streams.purge(config.nats.streamName, { filter: 'connector.sync.>' }).catch(() => undefined);

  if (!args['skip-build']) {
    process.stderr.write('[quota] npm run build…\n');
    execFileSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const env = { ...childEnv, ...RUNTIME_ENV, ...envFor(config, { LOG_LEVEL: opt('log-level'), HEALTH_PORT: '0' }) };
  const replicas = Array.from({ length: num('replicas') }, (_, i) => {
    const log = `/tmp/echomind-quota-${runId}-replica-${i}.log`;
    const fd = openSync(log, 'a');
    const child = spawn(nodeBin, [...RUNTIME_NODE_FLAGS, 'dist/src/main.js'], { cwd: repoRoot, env, stdio: ['ignore', fd, fd] });
    return { child, log };
  });
  const temporal = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
  const started = Date.now();
  for (;;) {
    const d = await temporal.workflowService
      .describeTaskQueue({ namespace: config.temporal.namespace, taskQueue: { name: config.temporal.taskQueue }, taskQueueType: 2 })
      .catch(() => undefined);
    if ((d?.pollers?.length ?? 0) >= replicas.length) break;
    const dead = replicas.find((r) => r.child.exitCode !== null);
    if (dead) throw new Error(`a replica exited at start; see ${dead.log}`);
    if (Date.now() - started > 180_000) throw new Error(`the replicas did not all poll within 3 minutes; see ${replicas[0]?.log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  process.stderr.write(`[quota] ${replicas.length} replicas polling after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return {
    config,
    db,
    emulator,
    tenants: emu.tenants,
    temporal,
    replicas,
    userId: user.id,
    windowMs,
    publish: async (connectorId) => {
      await js.publish(SYNC_SUBJECTS.onedrive, syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId: user.id }));
    },
    nats,
  };
}

async function stopBench(bench: Bench): Promise<void> {
  for (const r of bench.replicas) r.child.kill('SIGTERM');
  await Promise.all(bench.replicas.map((r) => new Promise((done) => (r.child.exitCode !== null ? done(null) : r.child.once('exit', done)))));
  await bench.emulator.close();
  await bench.nats.drain();
  await bench.temporal.connection.close();
  const store = new ObjectStore(bench.config.objectStore);
  const keys = await store.listKeys('').catch(() => [] as string[]);
  for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => store.remove(k).catch(() => undefined)));
  await bench.db.destroy();
}

async function addConnector(bench: Bench, name: string, driveId: string, tenant: 'a' | 'b'): Promise<number> {
  const app = bench.tenants.b;
  // Tenant A's connectors sign in as the service's app (MS_GRAPH_*); tenant B's name their own.
  const config = tenant === 'a' ? { drive_id: driveId } : { drive_id: driveId, client_id: app.clientId, client_secret: app.clientSecret, tenant_id: app.tenantId };
  const row = await bench.db
    .insertInto('connectors')
    .values({ name, type: 'onedrive', config: JSON.stringify(config), user_id: bench.userId })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

async function seed(bench: Bench, files: number, folders = 10): Promise<string> {
  const { driveId } = await bench.emulator.call<{ driveId: string }>({ op: 'seed', files, sizeBytes: num('small-kib') * 1024, folders });
  return driveId;
}

/** The run a request started (at or after `since`), followed to its end through continue-as-new. */
async function runFrom(bench: Bench, connectorId: number, since: number): Promise<SyncResult> {
  const handle = bench.temporal.workflow.getHandle(`connector-sync-${connectorId}`);
  for (;;) {
    const d = await handle.describe().catch(() => undefined);
    if (d && d.startTime.getTime() >= since - 1000) return (await bench.temporal.workflow.getHandle(d.workflowId, d.runId).result()) as SyncResult;
    if (Date.now() - since > 120_000) throw new Error(`no sync of connector ${connectorId} started within 2 minutes of its request`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Publishes a sync request as EchoMind does and waits for the sync to end: its outcome and seconds from request to end. */
async function syncOnce(bench: Bench, connectorId: number): Promise<{ connectorId: number; seconds: number; outcome: string; message: string }> {
  const at = Date.now();
  await bench.publish(connectorId);
  const result = await runFrom(bench, connectorId, at);
  return { connectorId, seconds: (Date.now() - at) / 1000, outcome: result.outcome, message: result.message };
}

async function storedDocuments(bench: Bench, connectorId: number): Promise<number> {
  const r = await bench.db.selectFrom('documents').select(bench.db.fn.countAll<string>().as('n')).where('connector_id', '=', connectorId).executeTakeFirstOrThrow();
  return Number(r.n);
}

const counts = (bench: Bench) => bench.emulator.call<QuotaEmulatorCounts>({ op: 'counts' });

/**
 * Writes to the shared budget's table so far, as PostgreSQL's own statistics count them: each draw is one
 * INSERT … ON CONFLICT DO UPDATE (a hold-off or a give-back one UPDATE). A backend reports its counts at the end
 * of a transaction at most once a second, so the last second of a run may be missing.
 */
async function budgetWrites(bench: Bench): Promise<number> {
  const { rows } = await sql<{ n: string | null }>`
    select sum(n_tup_ins + n_tup_upd)::text as n from pg_stat_user_tables where schemaname = 'connector_sync' and relname = 'request_budgets'`.execute(bench.db);
  return Number(rows[0]?.n ?? 0);
}

/** Windows of a tenant that began at or after `from` and ended by `to` (whole windows), and the partial ones apart. */
function windowsBetween(t: TenantCounts, from: number, to: number, windowMs: number) {
  const inRun = t.windows.filter((w) => w.startMs + windowMs > from && w.startMs < to);
  return {
    whole: inRun.filter((w) => w.startMs >= from && w.startMs + windowMs <= to).map((w) => w.units),
    all: inRun.map((w) => ({ start: new Date(w.startMs).toISOString(), units: w.units, whole: w.startMs >= from && w.startMs + windowMs <= to })),
  };
}

function machine() {
  return { nproc: cpus().length, memoryGiB: Number((totalmem() / 1024 ** 3).toFixed(1)), cpuModel: cpus()[0]?.model ?? 'unknown', loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').trim() };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const round = (n: number, digits = 2) => Number(n.toFixed(digits));

// ---- 3 replicas, 6 connectors of one tenant -------------------------------------

async function replicasScenario(bench: Bench, unitsPerMinute: number) {
  const connectorsCount = num('connectors');
  const files = num('files');
  const each = Math.floor(files / connectorsCount);
  const ids: number[] = [];
  for (let c = 0; c < connectorsCount; c++) ids.push(await addConnector(bench, `quota replicas ${c}`, await seed(bench, each, 20), 'a'));
  const total = each * connectorsCount;
  process.stderr.write(`[quota] replicas: ${connectorsCount} connectors × ${each} files, ${unitsPerMinute} units a minute, SOURCE_BUDGET=${opt('source-budget')}…\n`);

  const before = await counts(bench);
  const writesBefore = await budgetWrites(bench);
  const peaks = bench.replicas.map(() => 0);
  const sampler = setInterval(() => bench.replicas.forEach((r, i) => (peaks[i] = Math.max(peaks[i] ?? 0, peakRssMiB(r.child.pid ?? 0)))), 1000);
  const progress = setInterval(() => {
    void counts(bench).then((c) => process.stderr.write(`[quota] … ${c.downloads - before.downloads} downloads, ${c.tenants.a.throttled - before.tenants.a.throttled} throttled\n`));
  }, 30_000);
  const t0 = Date.now();
  const syncs = await Promise.all(ids.map((id) => syncOnce(bench, id)));
  const t1 = Date.now();
  clearInterval(sampler);
  clearInterval(progress);
  const after = await counts(bench);
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // the replicas' last statistics reach PostgreSQL
  const draws = (await budgetWrites(bench)) - writesBefore;

  const stored = await Promise.all(ids.map((id) => storedDocuments(bench, id)));
  const windows = windowsBetween(after.tenants.a, t0, t1, bench.windowMs);
  const whole = windows.whole.map((u) => u / unitsPerMinute);
  const units = windows.all.reduce((n, w) => n + w.units, 0);
  const driveRequests = after.driveRequests - before.driveRequests;
  const throttled = after.tenants.a.throttled - before.tenants.a.throttled;
  const seconds = (t1 - t0) / 1000;
  const unitsPerFile = units / total;
  const budgetPerSecond = unitsPerMinute / (bench.windowMs / 1000);
  const filesPerSecond = total / seconds;
  const target = (0.9 * budgetPerSecond) / unitsPerFile;
  const maxWindow = Math.max(...windows.all.map((w) => w.units));
  const problems: string[] = [];
  if (stored.some((n) => n !== each)) problems.push(`stored ${stored.join(', ')} of ${each} each`);
  if (syncs.some((s) => s.outcome !== 'synced')) problems.push(`outcomes ${syncs.map((s) => `${s.outcome} ${s.message}`).join('; ')}`);
  return {
    replicas: bench.replicas.length,
    sourceBudget: opt('source-budget'),
    connectors: connectorsCount,
    files: total,
    unitsPerMinute,
    windowMs: bench.windowMs,
    seconds: round(seconds, 1),
    filesPerSecond: round(filesPerSecond, 1),
    resourceUnits: units,
    unitsPerFile: round(unitsPerFile, 3),
    driveRequests,
    downloads: after.downloads - before.downloads,
    throttled,
    throttledShare: round(throttled / driveRequests, 4),
    unitsPerWindow: windows.all,
    maxUnitsInAWindow: maxWindow,
    maxWindowOverBudget: round(maxWindow / unitsPerMinute, 2),
    // The emulator's own count per whole window (begun and ended within the run) ÷ the budget; the first and
    // last windows are partial (the run began and ended inside them) and are in unitsPerWindow only.
    wholeWindows: whole.length,
    wholeWindowShare: whole.length === 0 ? null : { min: round(Math.min(...whole), 3), mean: round(whole.reduce((a, b) => a + b, 0) / whole.length, 3), max: round(Math.max(...whole), 3) },
    budgetDraws: draws,
    budgetDrawsPerDriveRequest: round(draws / driveRequests, 2),
    targets: {
      everyWindowWithinBudget: windows.all.every((w) => w.units <= unitsPerMinute),
      throttledAtMost1Percent: throttled / driveRequests <= 0.01,
      throughputTarget: round(target, 1),
      throughputRatio: round(filesPerSecond / (budgetPerSecond / unitsPerFile), 3),
      throughputMet: filesPerSecond >= target,
    },
    syncSeconds: syncs.map((s) => round(s.seconds, 1)),
    replicaPeakRssMiB: peaks.map((p) => round(p, 1)),
    problems,
  };
}

// ---- fairness: a backfill beside small syncs, and another tenant ----------------

interface SmallConnector {
  id: number;
  driveId: string;
}

/** Changes `changes` files in each drive, then syncs them all at once: each sync's seconds from request to end. */
async function incrementalRound(bench: Bench, connectors: SmallConnector[], changes: number) {
  for (const c of connectors) await bench.emulator.call({ op: 'change', driveId: c.driveId, count: changes });
  const syncs = await Promise.all(connectors.map((c) => syncOnce(bench, c.id)));
  const seconds = syncs.map((s) => round(s.seconds, 2));
  return {
    seconds,
    p50: round(percentile(seconds, 50), 2),
    p95: round(percentile(seconds, 95), 2),
    notSynced: syncs.filter((s) => s.outcome !== 'synced').map((s) => `${s.connectorId}: ${s.outcome} ${s.message}`),
  };
}

/** An operator starts a sync by hand (as the README's `temporal workflow start`): until its first source request, and until its end. */
async function operatorSync(bench: Bench, connector: SmallConnector, changes: number) {
  await bench.emulator.call({ op: 'change', driveId: connector.driveId, count: changes });
  const run = describeRun({ connectorId: connector.id, type: 'onedrive', trigger: 'manual' });
  const at = Date.now();
  await bench.temporal.workflow.start('syncConnector', {
    taskQueue: bench.config.temporal.taskQueue,
    workflowId: `connector-sync-${connector.id}`,
    args: [{ connectorId: connector.id }],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    staticSummary: run.staticSummary,
    staticDetails: run.staticDetails,
    typedSearchAttributes: run.typedSearchAttributes,
  });
  let firstRequest: number | undefined;
  const result = runFrom(bench, connector.id, at);
  let done = false;
  void result.finally(() => (done = true)).catch(() => undefined);
  while (firstRequest === undefined && !done) {
    firstRequest = (await bench.emulator.call<{ at: number | undefined }>({ op: 'firstRequestOn', driveId: connector.driveId, sinceMs: at })).at;
    if (firstRequest === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  const outcome = await result;
  firstRequest ??= (await bench.emulator.call<{ at: number | undefined }>({ op: 'firstRequestOn', driveId: connector.driveId, sinceMs: at })).at;
  return {
    secondsToFirstSourceRequest: firstRequest === undefined ? null : round((firstRequest - at) / 1000, 2),
    seconds: round((Date.now() - at) / 1000, 2),
    outcome: outcome.outcome,
  };
}

/** Until the emulator's next quota window begins. */
async function nextWindow(bench: Bench): Promise<void> {
  await new Promise((r) => setTimeout(r, bench.windowMs - (Date.now() % bench.windowMs) + 100));
}

async function fairnessScenario(bench: Bench, unitsPerMinute: number) {
  const smallCount = num('small');
  const changes = num('changes');
  const smallFiles = changes * 2;
  const backfillFiles = num('backfill-files');
  process.stderr.write(`[quota] fairness: seeding a ${backfillFiles}-file drive and the small ones…\n`);
  const backfill = { id: 0, driveId: await seed(bench, backfillFiles, 100) };
  backfill.id = await addConnector(bench, 'quota fairness backfill', backfill.driveId, 'a');
  const small: SmallConnector[] = [];
  for (let i = 0; i < smallCount; i++) {
    const driveId = await seed(bench, smallFiles, 2);
    small.push({ id: await addConnector(bench, `quota fairness small ${i}`, driveId, 'a'), driveId });
  }
  const operatorDrive = await seed(bench, smallFiles, 2);
  const operator: SmallConnector = { id: await addConnector(bench, 'quota fairness operator', operatorDrive, 'a'), driveId: operatorDrive };
  const other: SmallConnector[] = [];
  for (let i = 0; i < num('other-tenant'); i++) {
    const driveId = await seed(bench, smallFiles, 2);
    other.push({ id: await addConnector(bench, `quota fairness tenant B ${i}`, driveId, 'b'), driveId });
  }

  process.stderr.write('[quota] fairness: first syncs of the small connectors (not measured)…\n');
  const first = await Promise.all([...small, operator, ...other].map((c) => syncOnce(bench, c.id)));
  if (first.some((s) => s.outcome !== 'synced')) throw new Error(`a first sync failed: ${JSON.stringify(first.filter((s) => s.outcome !== 'synced'))}`);

  // Alone means in a minute of its own: the units the first syncs spent stay in the emulator's minute
  // they fell in (and near its end SharePoint's headers hold the whole tenant until it resets).
  process.stderr.write('[quota] fairness: alone…\n');
  await nextWindow(bench);
  const aloneSmall = await incrementalRound(bench, small, changes);
  await nextWindow(bench);
  const aloneOther = await incrementalRound(bench, other, changes);
  await nextWindow(bench);
  const alone = { smallSyncs: aloneSmall, otherTenant: aloneOther, operator: await operatorSync(bench, operator, changes) };

  process.stderr.write('[quota] fairness: the backfill starts…\n');
  const backfillStart = Date.now();
  await bench.publish(backfill.id);
  const before = await counts(bench);
  // The backfill is running at the budget once it has spent a whole window's units.
  for (;;) {
    const c = await counts(bench);
    const spent = c.tenants.a.windows.filter((w) => w.startMs >= backfillStart).reduce((n, w) => n + w.units, 0);
    if (spent >= unitsPerMinute) break;
    if (Date.now() - backfillStart > 10 * MINUTE) throw new Error('the backfill did not spend a window of units within 10 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
  const storedAtLoad = await storedDocuments(bench, backfill.id);
  process.stderr.write(`[quota] fairness: beside the backfill (${storedAtLoad} files stored so far)…\n`);
  const loadStart = Date.now();
  const loaded = {
    smallSyncs: await incrementalRound(bench, small, changes),
    otherTenant: await incrementalRound(bench, other, changes),
    operator: await operatorSync(bench, operator, changes),
  };
  const loadEnd = Date.now();
  const storedAtEnd = await storedDocuments(bench, backfill.id);
  const after = await counts(bench);
  await bench.temporal.workflow
    .getHandle(`connector-sync-${backfill.id}`)
    .terminate('the fairness benchmark is over')
    .catch(() => undefined);

  const a = windowsBetween(after.tenants.a, backfillStart, loadEnd, bench.windowMs);
  const b = windowsBetween(after.tenants.b, backfillStart, loadEnd, bench.windowMs);
  return {
    replicas: bench.replicas.length,
    sourceBudget: opt('source-budget'),
    unitsPerMinute,
    windowMs: bench.windowMs,
    backfill: {
      files: backfillFiles,
      storedWhenMeasuringBegan: storedAtLoad,
      storedWhenMeasuringEnded: storedAtEnd,
      filesPerSecondWhileMeasured: round((storedAtEnd - storedAtLoad) / ((loadEnd - loadStart) / 1000), 1),
      note: 'the backfill ran throughout the measurement and was terminated after it (a first sync of its size takes hours at this budget)',
    },
    smallConnectors: smallCount,
    changesPerSync: changes,
    otherTenantConnectors: other.length,
    alone,
    besideBackfill: loaded,
    ratios: {
      smallSyncsP95: round(loaded.smallSyncs.p95 / alone.smallSyncs.p95),
      otherTenantP95: round(loaded.otherTenant.p95 / alone.otherTenant.p95),
      otherTenantP50: round(loaded.otherTenant.p50 / alone.otherTenant.p50),
    },
    targets: {
      smallSyncsP95AtMost1_5: loaded.smallSyncs.p95 <= 1.5 * alone.smallSyncs.p95,
      operatorStartsWithin5s: (loaded.operator.secondsToFirstSourceRequest ?? Number.POSITIVE_INFINITY) <= 5,
      otherTenantAtMost1_1: loaded.otherTenant.p95 <= 1.1 * alone.otherTenant.p95,
    },
    throttled: { a: after.tenants.a.throttled - before.tenants.a.throttled, b: after.tenants.b.throttled - before.tenants.b.throttled },
    unitsPerWindow: { a: a.all, b: b.all },
  };
}

// ---- the run -------------------------------------------------------------------

function summary(name: string, r: Record<string, unknown>): string {
  return `## quota ${name}\n\n\`\`\`json\n${JSON.stringify(r, (k, v: unknown) => (k === 'unitsPerWindow' || k === 'seconds' ? JSON.stringify(v) : v), 2)}\n\`\`\``;
}

export async function main(): Promise<void> {
  lockStack();
  const scenario = opt('quota');
  if (scenario !== 'replicas' && scenario !== 'fairness') throw new Error(`--quota must be replicas or fairness, not ${scenario}`);
  // replicas: 3,600 units a minute (5,000-14,999 licences) makes 30,000 files a run of about nine minutes; fairness: the default tier.
  const unitsPerMinute = Number(args['units-per-minute'] ?? (scenario === 'replicas' ? 3_600 : 1_200));
  const runId = randomUUID().slice(0, 8);
  const loadAtStart = machine();
  const bench = await startBench(unitsPerMinute, runId);
  // Interrupted: the replicas and the emulator go too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`[quota] ${signal}: stopping the replicas and the emulator\n`);
      void stopBench(bench).finally(() => process.exit(130));
    });
  }
  let result: Record<string, unknown> | undefined;
  try {
    result = scenario === 'replicas' ? await replicasScenario(bench, unitsPerMinute) : await fairnessScenario(bench, unitsPerMinute);
  } finally {
    await stopBench(bench);
  }
  const label = typeof args.label === 'string' ? args.label : git('rev-parse', '--short', 'HEAD');
  const out = {
    date: new Date().toISOString(),
    commit: git('rev-parse', 'HEAD'),
    label,
    scenario,
    machine: loadAtStart,
    loadAverageAtEnd: readFileSync('/proc/loadavg', 'utf8').trim(),
    logs: bench.replicas.map((r) => r.log),
    ...result,
  };
  mkdirSync(`${repoRoot}bench/results`, { recursive: true });
  const file = `${repoRoot}bench/results/quota-${scenario}-${label}.json`;
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${summary(scenario, result)}\n\nwritten to ${file}\n`);
  if (Array.isArray(result.problems) && result.problems.length > 0) process.exitCode = 1;
}
