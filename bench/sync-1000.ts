/**
 * One full sync of N files through an emulator, measured end to end against
 * the real local stack (scripts/stack.sh up): wall time, files per second, the
 * worker process's peak RSS (VmHWM), and Temporal history events per file.
 *
 *   npm run bench -- --source onedrive --files 1000 --size 16384
 *   npm run bench -- --source google_drive
 *
 * The worker runs as its own process (as in production) so its memory is
 * measured alone. Results are printed and written to bench/results/.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../src/config.js';
import { createDatabase, migrateToLatest } from '../src/db/database.js';
import { startGraphEmulator } from '../test/emulators/graph/index.js';
import { DEFAULT_CLIENT, startDriveEmulator } from '../test/emulators/drive/index.js';
import { envFor } from '../test/support/service-harness.js';
import type { SyncResult } from '../workflows/definitions.js';

const { values: args } = parseArgs({
  options: {
    source: { type: 'string', default: 'onedrive' },
    files: { type: 'string', default: '1000' },
    size: { type: 'string', default: '16384' },
    /** Cap the worker's V8 old space (MiB) to see how much it really needs, not how much it may grow. */
    'worker-heap-mib': { type: 'string' },
  },
});
const source = args.source as 'onedrive' | 'google_drive';
const files = Number(args.files);
const size = Number(args.size);
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

function peakRssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const runId = randomUUID().slice(0, 8);
  const base = loadConfig({
    DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgresql://echomind:echomind@127.0.0.1:5432/echomind',
    MINIO_BUCKET: `echomind-bench-${runId}`,
    TEMPORAL_TASK_QUEUE: `echomind-bench-${runId}`,
  });
  const db = createDatabase(base.databaseUrl);
  await migrateToLatest(db);
  const user = await db.insertInto('users').values({ email: `bench-${runId}@example.test` }).returning('id').executeTakeFirstOrThrow();

  let env: Record<string, string>;
  let connectorConfig: Record<string, unknown>;
  let googleCredentialId: number | null = null;
  let close: () => Promise<void>;
  if (source === 'onedrive') {
    const emu = await startGraphEmulator();
    for (let i = 0; i < files; i++) {
      const folder = `/f${i % 20}`;
      if (i < 20) emu.addFolder('/', `f${i}`);
      emu.addFile(folder, `doc-${i}.txt`, randomBytes(size));
    }
    const config = loadConfig({
      ...envFor(base),
      MS_GRAPH_BASE_URL: emu.graphBaseUrl,
      MS_LOGIN_BASE_URL: emu.loginBaseUrl,
      MS_GRAPH_CLIENT_ID: emu.settings.clientId,
      MS_GRAPH_CLIENT_SECRET: emu.settings.clientSecret,
      MS_GRAPH_TENANT_ID: emu.settings.tenantId,
    });
    env = envFor(config, { LOG_LEVEL: 'warn', HEALTH_PORT: '0' });
    connectorConfig = { drive_id: emu.drive.id };
    close = () => emu.close();
  } else {
    const emu = await startDriveEmulator();
    const root = emu.myDrive();
    const folders = Array.from({ length: 20 }, (_, i) => emu.addFolder(root, `f${i}`));
    for (let i = 0; i < files; i++) emu.addFile(folders[i % 20] as string, `doc-${i}.txt`, randomBytes(size), { mimeType: 'text/plain' });
    const cred = await db
      .insertInto('google_credentials')
      .values({
        user_id: user.id,
        refresh_token: emu.issueRefreshToken(),
        client_id: DEFAULT_CLIENT.clientId,
        client_secret: DEFAULT_CLIENT.clientSecret,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    googleCredentialId = cred.id;
    const config = loadConfig({ ...envFor(base), GOOGLE_DRIVE_BASE_URL: emu.driveBaseUrl, GOOGLE_OAUTH_TOKEN_URL: emu.tokenUrl });
    env = envFor(config, { LOG_LEVEL: 'warn', HEALTH_PORT: '0' });
    connectorConfig = {};
    close = () => emu.close();
  }

  const connector = await db
    .insertInto('connectors')
    .values({
      name: `bench ${source} ${runId}`,
      type: source,
      config: JSON.stringify(connectorConfig),
      user_id: user.id,
      google_credential_id: googleCredentialId,
    })
    .returning('id')
    .executeTakeFirstOrThrow();

  // The worker alone, as in production: node with the tsx loader, one process to measure.
  const heapFlag = args['worker-heap-mib'] ? [`--max-old-space-size=${args['worker-heap-mib']}`] : [];
  const worker = spawn(`${repoRoot}node_modules/.bin/node`, [...heapFlag, '--import', 'tsx', 'src/main.ts', '--worker-only', '--migrate'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const pid = worker.pid ?? 0;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, peakRssKiB(pid))), 200);

  const client = new Client({ connection: await Connection.connect({ address: base.temporal.address }) });
  const workflowId = `bench-${source}-${runId}`;
  await new Promise((r) => setTimeout(r, 3000)); // let the worker bundle its workflows and poll
  const rssBefore = peakRssKiB(pid);
  const started = performance.now();
  const handle = await client.workflow.start('syncConnector', {
    taskQueue: base.temporal.taskQueue,
    workflowId,
    args: [{ connectorId: connector.id }],
  });
  const result = (await client.workflow.getHandle(workflowId).result()) as SyncResult;
  const wallSeconds = (performance.now() - started) / 1000;
  peak = Math.max(peak, peakRssKiB(pid));
  clearInterval(sampler);

  let events = 0;
  let runs = 0;
  for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    runs++;
    events += w.historyLength;
  }
  const stored = await db.selectFrom('documents').select(db.fn.countAll<string>().as('n')).where('connector_id', '=', connector.id).executeTakeFirstOrThrow();

  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  await client.connection.close();
  await close();

  const report = {
    date: new Date().toISOString(),
    source,
    files,
    fileSizeBytes: size,
    workerHeapCapMiB: args['worker-heap-mib'] ? Number(args['worker-heap-mib']) : null,
    outcome: result.outcome,
    message: result.message,
    documentsStored: Number(stored.n),
    wallSeconds: Number(wallSeconds.toFixed(2)),
    filesPerSecond: Number((files / wallSeconds).toFixed(1)),
    workerRssBeforeSyncMiB: Number((rssBefore / 1024).toFixed(1)),
    workerPeakRssMiB: Number((peak / 1024).toFixed(1)),
    workflowRuns: runs,
    historyEvents: events,
    historyEventsPerFile: Number((events / files).toFixed(2)),
    machine: `${(await import('node:os')).cpus().length} cores, node ${process.version}`,
    firstRunId: handle.firstExecutionRunId,
  };
  console.log(JSON.stringify(report, null, 2));
  mkdirSync(`${repoRoot}bench/results`, { recursive: true });
  writeFileSync(`${repoRoot}bench/results/${source}-${files}${args['worker-heap-mib'] ? `-heap${args['worker-heap-mib']}` : ''}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await db.destroy();
  if (result.outcome !== 'synced' || Number(stored.n) !== files) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
