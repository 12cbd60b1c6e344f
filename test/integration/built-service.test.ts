import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/schema.js';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from '../../src/runtime-settings.js';
import { ConnectorIdKey, ConnectorTypeKey, SyncTriggerKey } from '../../src/telemetry/search-attributes.js';
import type { GraphEmulator } from '../emulators/graph/index.js';
import { createConnector, createUser, skipOutsideCi, waitFor } from '../support/integration.js';
import { envFor, syncRequestBytes } from '../support/service-harness.js';
import { serviceSuite } from '../support/service-suite.js';

/**
 * The production build, run as production runs it: no tsx, the workflow bundle
 * built ahead of time, bridge and worker in one process, a sync request through
 * NATS. In CI (CONNECTOR_IMAGE_DIR, made by scripts/dockerfile-dryrun.ts) it is
 * the Dockerfile's final stage (`npm ci --omit=dev` and dist/ only), started with
 * the image's CMD as its non-root USER, and probed with its HEALTHCHECK;
 * otherwise `npm run build` here and `node dist/src/main.js`.
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

interface ImageDescription {
  dir: string;
  env: Record<string, string>;
  nodeBin: string;
  user?: string;
  expose?: string;
  cmd: string[];
  healthcheck?: { test: string[] };
}

const imageDir = process.env.CONNECTOR_IMAGE_DIR;
/** Why the checks of the image itself cannot run here (CI always runs them). */
const noImage = imageDir
  ? undefined
  : 'CONNECTOR_IMAGE_DIR is not set: checking the image needs the Dockerfile dry run (npx tsx scripts/dockerfile-dryrun.ts DIR, as .ci/run does)';
/** Only root can start the service as the image's USER. */
const notRoot = process.getuid?.() === 0 ? undefined : "this run is not root, so it cannot start the service as the image's USER";

async function builtService(): Promise<ImageDescription> {
  if (imageDir) return JSON.parse(readFileSync(join(imageDir, 'image.json'), 'utf8')) as ImageDescription;
  if (process.env.CI) throw new Error(noImage);
  await run('npm', ['run', 'build'], { cwd: repoRoot, timeout: 300_000 });
  return { dir: repoRoot, env: { ...RUNTIME_ENV }, nodeBin: `${repoRoot}node_modules/.bin/node`, cmd: ['node', ...RUNTIME_NODE_FLAGS, 'dist/src/main.js'] };
}

/** `node` in the image's CMD or HEALTHCHECK is the image's Node 24. */
const nodeArgs = (image: ImageDescription, command: string[]): [string, string[]] => {
  const [program, ...args] = command;
  if (program !== 'node') throw new Error(`expected a node command, got ${command.join(' ')}`);
  return [image.nodeBin, args];
};

/** The image's USER as uid/gid: it must name an unprivileged user by number (Kubernetes' runAsNonRoot checks numbers). */
function imageUser(image: ImageDescription): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(image.user ?? '');
  if (!m || Number(m[1]) === 0) throw new Error(`the image's USER is ${image.user ?? 'unset (root)'}, not an unprivileged uid[:gid]`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
}

/** Spawn options that start the service as the image's USER, where this run can (the image, as root). */
const asImageUser = (image: ImageDescription) => (noImage || notRoot ? {} : imageUser(image));

let image: ImageDescription;
let emulator: GraphEmulator;
let config: Config;
let db: Kysely<Database>;
let nats: NatsConnection;
let temporal: Client;

serviceSuite(
  { graph: true, service: false, observer: true, reset: 'once', env: { MAX_FILE_SIZE_BYTES: String(1024 * 1024) } },
  (suite) => ({ graph: emulator, config, observer: { db, nats, temporal } } = suite),
);

/** One running copy of the built service (a compose replica). */
interface Replica {
  child: ChildProcess;
  output: () => string;
  lines: () => Array<Record<string, unknown>>;
  port: number;
}

const replicas: Replica[] = [];
/** The first replica: most tests talk to it alone. */
let service: ChildProcess | undefined;
let output = () => '';
let logLines = (): Array<Record<string, unknown>> => [];
let healthPort: number;

/** Files stored new, by the `results` of a batch's log lines. */
function newFiles(batchLines: Array<Record<string, unknown>>): number {
  return batchLines.reduce((n, l) => n + ((l.results as Record<string, number> | undefined)?.new ?? 0), 0);
}

function parseLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Starts the image's CMD as docker-compose.yml runs it (CMD plus --migrate; test/deploy/compose.test.ts checks that). */
async function startReplica(): Promise<Replica> {
  const [program, args] = nodeArgs(image, [...image.cmd, '--migrate']);
  const child = spawn(program, args, {
    cwd: image.dir,
    // The image's ENV, then the stack's settings; loopback only (the image listens on 0.0.0.0 in its container).
    env: { PATH: process.env.PATH ?? '', ...image.env, ...envFor(config, { HEALTH_PORT: '0', HEALTH_HOST: '127.0.0.1', NOTIFICATION_HOST: '127.0.0.1' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...asImageUser(image),
  });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const lines = () => parseLines(text);
  const port = await waitFor(
    'the built service to listen',
    () => {
      if (child.exitCode !== null) throw new Error(`the built service exited:\n${text}`);
      const listening = lines().find((l) => l.msg === 'health endpoint listening');
      return Promise.resolve(lines().some((l) => l.msg === 'echomind-connector started') && typeof listening?.port === 'number' ? listening.port : undefined);
    },
    60_000,
  );
  const replica = { child, output: () => text, lines, port };
  replicas.push(replica);
  return replica;
}

beforeAll(async () => {
  image = await builtService();
  const first = await startReplica();
  service = first.child;
  output = first.output;
  logLines = first.lines;
  healthPort = first.port;
});

afterAll(async () => {
  await Promise.all(
    replicas.map(async ({ child }) => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }),
  );
});

/** One sample's value from Prometheus text: `name{…labels…} value`, labels in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const body = line.slice(name.length);
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('the built service (the Dockerfile\'s output, or npm run build)', () => {
  it('runs with the production runtime settings (memory: src/runtime-settings.ts)', (ctx) => {
    skipOutsideCi(ctx, noImage);
    expect(image.env).toMatchObject(RUNTIME_ENV);
    expect(image.cmd).toEqual(['node', ...RUNTIME_NODE_FLAGS, 'dist/src/main.js']);
  });

  it("listens on the container's interfaces and exposes the health and notification ports (an ingress can reach both)", (ctx) => {
    skipOutsideCi(ctx, noImage);
    expect(image.env).toMatchObject({ HEALTH_HOST: '0.0.0.0', NOTIFICATION_HOST: '0.0.0.0' });
    expect(image.expose?.split(/\s+/)).toEqual([image.env.HEALTH_PORT, image.env.NOTIFICATION_PORT]);
  });

  it('answers its HEALTHCHECK once connected', async () => {
    const probe = image.healthcheck?.test ?? ['node', '-e', "fetch('http://127.0.0.1:' + process.env.HEALTH_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1))"];
    const [program, args] = nodeArgs(image, probe);
    await expect(run(program, args, { env: { ...process.env, HEALTH_PORT: String(healthPort) } })).resolves.toBeDefined();
    const body = (await (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).json()) as Record<string, string>;
    expect(body).toEqual({ status: 'healthy', nats: 'connected', minio: 'connected', database: 'connected', temporal: 'connected' });
  });

  it("runs as the image's unprivileged USER", (ctx) => {
    skipOutsideCi(ctx, noImage ?? notRoot);
    const { uid } = imageUser(image);
    expect(readFileSync(`/proc/${service?.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
  });

  it('runs a sync from NATS to active, and the run carries its summary, details and search attributes', async () => {
    emulator.addFile('/', 'plan.md', '# plan');
    emulator.addFile('/', 'report.pdf', '%PDF-1.7 report');
    emulator.addFile('/', 'huge.pdf', Buffer.alloc(2 * 1024 * 1024, 1));
    emulator.faults.push({ match: /\/root\/delta$/, status: 429, retryAfter: '1' });
    const userId = await createUser(db);
    const connectorId = await createConnector(db, { type: 'onedrive', config: { drive_id: emulator.drive.id }, userId });
    await db.updateTable('connectors').set({ name: 'Marketing files' }).where('id', '=', connectorId).execute();
    const workflowId = `connector-sync-${connectorId}`;
    await temporal.workflow
      .getHandle(workflowId)
      .terminate('left open by an earlier test run')
      .catch(() => undefined);

    const publishedAt = Date.now();
    await jetstream(nats).publish(
      'connector.sync.onedrive',
      syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId, chunkingSession: 'chunk-built' }),
    );
    const handle = temporal.workflow.getHandle(workflowId);
    const started = await waitFor('the sync to start', async () => {
      const d = await handle.describe().catch(() => undefined);
      return d && d.startTime.getTime() >= publishedAt - 5 ? d : undefined;
    });
    await temporal.workflow.getHandle(workflowId, started.runId).result();
    const row = await db.selectFrom('connectors').selectAll().where('id', '=', connectorId).executeTakeFirstOrThrow();
    expect(row.status, output().slice(-3000)).toBe('active');
    expect(row.status_message).toMatch(/^2 new, 0 updated, 0 deleted, 1 failed\b/);

    const described = await temporal.workflow.getHandle(workflowId, started.runId).describe();
    expect(await described.staticSummary()).toBe(`OneDrive sync of connector ${connectorId} · Marketing files`);
    const details = await described.staticDetails();
    expect(details).toContain('**Type:** onedrive');
    expect(details).toContain('**Scope:** user');
    expect(details).toContain('**Trigger:** orchestrator');
    expect(details).toContain('**Chunking session:** chunk-built');
    expect(described.typedSearchAttributes.get(ConnectorIdKey)).toBe(connectorId);
    expect(described.typedSearchAttributes.get(ConnectorTypeKey)).toBe('onedrive');
    expect(described.typedSearchAttributes.get(SyncTriggerKey)).toBe('orchestrator');
    const listed = [];
    for await (const w of temporal.workflow.list({ query: `SyncTrigger = "orchestrator" AND ConnectorId = ${connectorId}` })) listed.push(w.runId);
    expect(listed).toContain(started.runId);
  });

  it("a manual start with the README's temporal command carries its summary and SyncTrigger manual", async () => {
    emulator.addFile('/', 'manual.txt', 'started by hand');
    const userId = await createUser(db, 'manual@example.test');
    const connectorId = await createConnector(db, { type: 'onedrive', config: { drive_id: emulator.drive.id }, userId });
    const workflowId = `connector-sync-${connectorId}`;
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const block = /\*\*Start a sync by hand\*\*[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toContain('--static-summary');
    const command = (block ?? '')
      .replace(/^\s*temporal /, `${process.env.TEMPORAL_CLI_PATH ?? 'temporal'} `)
      .replaceAll('connector-sync-7', workflowId)
      .replaceAll('connector 7', `connector ${connectorId}`)
      .replaceAll('ConnectorId=7', `ConnectorId=${connectorId}`)
      .replaceAll('"connectorId": 7', `"connectorId": ${connectorId}`)
      .replaceAll('--task-queue echomind-connector', `--task-queue ${config.temporal.taskQueue}`);
    await run('bash', ['-c', command], { env: { ...process.env, TEMPORAL_ADDRESS: config.temporal.address, TEMPORAL_NAMESPACE: config.temporal.namespace } });

    const handle = temporal.workflow.getHandle(workflowId);
    await handle.result();
    const described = await handle.describe();
    expect(await described.staticSummary()).toBe(`OneDrive sync of connector ${connectorId} · Marketing files`);
    expect(await described.staticDetails()).toContain('**Trigger:** manual');
    expect(described.typedSearchAttributes.get(SyncTriggerKey)).toBe('manual');
    expect(described.typedSearchAttributes.get(ConnectorIdKey)).toBe(connectorId);
    const row = await db.selectFrom('connectors').select('status').where('id', '=', connectorId).executeTakeFirstOrThrow();
    expect(row.status).toBe('active');
  });

  it('serves Temporal runtime metrics and the sync metrics on /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    // For a release note: METRICS_SAMPLE_FILE=path keeps the page this test read.
    if (process.env.METRICS_SAMPLE_FILE) writeFileSync(process.env.METRICS_SAMPLE_FILE, text);
    // The SDK's own worker metrics, from the runtime's Prometheus exporter.
    expect(text).toMatch(/^temporal_workflow_completed_total\{/m);
    expect(text).toMatch(/^temporal_activity_execution_latency_bucket\{/m);
    // The sync's, recorded through Temporal's metric meter and leaving through the same exporter.
    // Two syncs of the same drive so far: the orchestrator's (2 new, 1 too large) and the manual one (3 new, 1 too large).
    expect(sample(text, 'connector_syncs_total', { outcome: 'synced', connector_type: 'onedrive' })).toBe(2);
    expect(sample(text, 'connector_files_total', { result: 'new' })).toBe(5);
    expect(sample(text, 'connector_files_total', { result: 'failed' })).toBe(2);
    expect(sample(text, 'connector_bytes_total')).toBe(2 * ('# plan'.length + '%PDF-1.7 report'.length) + 'started by hand'.length);
    expect(sample(text, 'connector_failures_total', { scope: 'item', reason: 'tooLarge' })).toBe(2);
    expect(sample(text, 'connector_throttle_waits_total', { source: 'onedrive', where: 'in_activity' })).toBe(1);
    expect(sample(text, 'connector_sync_duration_seconds_count', { outcome: 'synced' })).toBe(2);
    expect(sample(text, 'connector_sync_duration_seconds_bucket', { outcome: 'synced', le: '3600' })).toBe(2);
    // And the bridge's counters, on the same page.
    expect(sample(text, 'connector_bridge_syncs_started_total', { type: 'onedrive' })).toBe(1);
  });

  it('puts connectorId, workflowId and runId on every log line of the sync', async () => {
    // The service writes its log in chunks at least every second: the sync's last lines may still be on their way.
    const syncLines = () => logLines().filter((l) => typeof l.connectorId === 'number');
    // At info a batch writes one line counting its files by result; each file's own line is at debug.
    const batches = () => syncLines().filter((l) => l.msg === 'transferred a batch');
    await waitFor('the batch lines of the five stored files', () => Promise.resolve(newFiles(batches()) >= 5));
    const lines = syncLines();
    expect(newFiles(batches())).toBe(5);
    expect(lines.filter((l) => l.msg === 'stored file')).toEqual([]);
    expect(lines.length).toBeGreaterThan(batches().length);
    for (const line of lines) {
      expect(line, JSON.stringify(line)).toMatchObject({ workflowId: expect.stringMatching(/^connector-sync-\d+$/), runId: expect.any(String) });
    }
  });

  it('scales out like `docker compose up --scale connector=3`: replicas share the consumer and the task queue', async () => {
    await Promise.all([startReplica(), startReplica()]);
    const userId = await createUser(db, 'scale@example.test');
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(await createConnector(db, { type: 'onedrive', config: { drive_id: emulator.drive.id }, userId }));
    }
    const publishedAt = Date.now();
    for (const connectorId of ids) {
      await jetstream(nats).publish('connector.sync.onedrive', syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId }));
    }
    for (const connectorId of ids) {
      const handle = temporal.workflow.getHandle(`connector-sync-${connectorId}`);
      const started = await waitFor(`the sync of connector ${connectorId} to start`, async () => {
        const d = await handle.describe().catch(() => undefined);
        return d && d.startTime.getTime() >= publishedAt - 5 ? d : undefined;
      });
      await temporal.workflow.getHandle(started.workflowId, started.runId).result();
    }
    const rows = await db.selectFrom('connectors').select(['id', 'status']).where('id', 'in', ids).execute();
    expect(rows.map((r) => r.status)).toEqual(ids.map(() => 'active'));
    // Each request went to exactly one replica (one durable consumer), not to every replica.
    const pages = await Promise.all(replicas.map(async (r) => (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text()));
    const startedBy = pages.map((text) => sample(text, 'connector_bridge_syncs_started_total', { type: 'onedrive' }) ?? 0);
    // The first replica also took the two earlier requests of this file (orchestrator sync, none for the manual start).
    expect(startedBy.reduce((a, b) => a + b, 0)).toBe(1 + ids.length);
    // And every file of the six syncs was stored once, by whichever replica's worker took it.
    const storedBy = () => replicas.map((r) => newFiles(r.lines().filter((l) => l.msg === 'transferred a batch' && ids.includes(l.connectorId as number))));
    const total = () => storedBy().reduce((a, b) => a + b, 0);
    // Each replica writes its log in chunks at least every second: wait for the last ones, then count exactly.
    await waitFor('every stored file in some replica\'s log', () => Promise.resolve(total() >= ids.length * 3));
    expect(total()).toBe(ids.length * 3);
  }, 180_000);
});
