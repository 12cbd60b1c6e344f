/**
 * Push notifications, measured on the local stack and the Graph emulator with
 * the service in this process (bridge, worker and notification endpoint):
 *
 * - latency: `--changes` changes (default 200) spread over `--connectors`
 *   OneDrive connectors (default 10, one emulator drive each), one every
 *   `--spacing-ms` (default 50); for each, the time from the change at the
 *   source to its DocumentProcessRequest on `document.process`;
 * - burst: one change notified 1,000 times (the emulator's duplicates) for one
 *   connector: how many sync passes it costs (pages listed by the runs it started);
 * - dropped: every notification lost, one change per connector, then one
 *   orchestrator request each: are all changes stored;
 * - fuzz: 10,000 forged or malformed requests at the endpoint (some naming real
 *   subscriptions): how many syncs they started, and whether the service still answers.
 *
 *   bash scripts/stack.sh up && eval "$(bash scripts/stack.sh env)"
 *   npx tsx bench/push.ts                      # writes bench/results/push-<label>.json
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../src/config.js';
import { ConnectorType } from '../src/gen/echomind/public/connector_pb.js';
import { createLogger } from '../src/logger.js';
import { startService, type RunningService } from '../src/service.js';
import type { SyncResult } from '../workflows/definitions.js';
import { checkSubscriptionsSignal, pushKeeperWorkflowId } from '../workflows/definitions.js';
import { startGraphEmulator, type GraphEmulator } from '../test/emulators/graph/index.js';
import { createConnector, documentProcessReader, freePort, waitFor } from '../test/support/integration.js';
import { envFor, syncViaNats } from '../test/support/service-harness.js';

const { values: args } = parseArgs({
  options: {
    connectors: { type: 'string', default: '10' },
    changes: { type: 'string', default: '200' },
    'spacing-ms': { type: 'string', default: '50' },
    fuzz: { type: 'string', default: '10000' },
    label: { type: 'string', default: 'push' },
    scenario: { type: 'string', default: 'latency,burst,dropped,fuzz' },
  },
});
const scenarios = new Set(args.scenario.split(','));
const progress = (line: string): void => {
  process.stderr.write(`[bench/push ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

interface Bench {
  service: RunningService;
  emu: GraphEmulator;
  userId: number;
  publicUrl: string;
  streamName: string;
}

/** A OneDrive connector with push on its own drive, synced once, subscribed, and its first push pass over. */
async function pushConnector(b: Bench, driveId: string): Promise<number> {
  const { service } = b;
  const connectorId = await createConnector(service.db, { type: 'onedrive', config: { drive_id: driveId, push: true }, userId: b.userId });
  await syncViaNats(service, 'connector.sync.onedrive', { connectorId, type: ConnectorType.ONEDRIVE, userId: b.userId });
  const keeper = service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId));
  await waitFor('the keeper', async () => (await keeper.describe().catch(() => undefined))?.status.name === 'RUNNING');
  // A creation that failed (a handshake slower than Graph's 10 s on a busy machine) is retried at the next check.
  await waitFor(
    'the subscription',
    async () => {
      await keeper.signal(checkSubscriptionsSignal);
      await sleep(2000);
      return (await service.db.selectFrom('connector_sync.push_subscriptions').select('id').where('connector_id', '=', connectorId).execute()).length > 0;
    },
    180_000,
  );
  await waitForQuiet(service, connectorId);
  return connectorId;
}

/** No sync of the connector running, twice in a row 3 s apart (past the debounce window). */
async function waitForQuiet(service: RunningService, connectorId: number): Promise<void> {
  let quiet = 0;
  while (quiet < 2) {
    await sleep(3000);
    let running = 0;
    for await (const _ of service.temporal.workflow.list({ query: `ConnectorId = ${connectorId} AND WorkflowType = "syncConnector" AND ExecutionStatus = "Running"` })) running++;
    quiet = running === 0 ? quiet + 1 : 0;
  }
}

async function latency(b: Bench, connectors: Array<{ id: number; driveId: string }>, changes: number, spacingMs: number) {
  const reader = await documentProcessReader(b.service.nats, b.streamName);
  const madeAt = new Map<string, number>();
  const seenAt = new Map<string, number>();
  let done = false;
  const drain = (async () => {
    while (!done) {
      for (const { request: r } of await reader.drain(200)) {
        const doc = await b.service.db.selectFrom('documents').select('title').where('id', '=', String(r.documentId)).executeTakeFirst();
        if (doc?.title && madeAt.has(doc.title) && !seenAt.has(doc.title)) seenAt.set(doc.title, Date.now());
      }
      if (seenAt.size === changes) done = true;
    }
  })();
  for (let i = 0; i < changes; i++) {
    const c = connectors[i % connectors.length] as { id: number; driveId: string };
    const name = `change-${i}.md`;
    madeAt.set(name, Date.now());
    b.emu.addFile('/', name, `# change ${i}`, { driveId: c.driveId });
    await sleep(spacingMs);
  }
  const deadline = Date.now() + 300_000;
  while (!done && Date.now() < deadline) await sleep(500);
  done = true;
  await drain;
  await reader.close();
  const ms = [...seenAt.entries()].map(([name, at]) => at - (madeAt.get(name) ?? at)).sort((x, y) => x - y);
  return { changes, connectors: connectors.length, spacingMs, published: ms.length, p50Ms: percentile(ms, 50), p95Ms: percentile(ms, 95), maxMs: ms.at(-1) ?? NaN };
}

async function burst(b: Bench, connectorId: number, driveId: string) {
  const since = new Date();
  b.emu.push.configure({ duplicates: 999 });
  b.emu.addFile('/', 'burst.md', '# one change, a thousand notifications', { driveId });
  await b.emu.push.settled();
  b.emu.push.configure({ duplicates: 0 });
  await b.service.notifications?.idle();
  await waitForQuiet(b.service, connectorId);
  let runs = 0;
  let passes = 0;
  for await (const w of b.service.temporal.workflow.list({ query: `ConnectorId = ${connectorId} AND WorkflowType = "syncConnector" AND StartTime > "${since.toISOString()}"` })) {
    runs++;
    const result = (await b.service.temporal.workflow.getHandle(w.workflowId, w.runId).result()) as SyncResult;
    passes += result.totals.pages;
  }
  const delivered = b.emu.push.delivered.filter((d) => d.kind === 'notification').length;
  return { notifications: 1000, deliveredSoFar: delivered, syncRuns: runs, passes };
}

async function dropped(b: Bench, connectors: Array<{ id: number; driveId: string }>) {
  b.emu.push.configure({ dropAll: true });
  for (const c of connectors) b.emu.addFile('/', `dropped-${c.id}.md`, '# never notified', { driveId: c.driveId });
  await b.emu.push.settled();
  const lost = b.emu.push.dropped.length;
  for (const c of connectors) await syncViaNats(b.service, 'connector.sync.onedrive', { connectorId: c.id, type: ConnectorType.ONEDRIVE, userId: b.userId });
  b.emu.push.configure({ dropAll: false });
  let stored = 0;
  for (const c of connectors) {
    const doc = await b.service.db.selectFrom('documents').select('id').where('connector_id', '=', c.id).where('title', '=', `dropped-${c.id}.md`).executeTakeFirst();
    if (doc) stored++;
  }
  return { changes: connectors.length, notificationsDropped: lost, storedAfterNextRequest: stored };
}

async function fuzz(b: Bench, total: number) {
  const ids = (await b.service.db.selectFrom('connector_sync.push_subscriptions').select('id').execute()).map((r) => r.id);
  const since = new Date();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const statuses: Record<string, number> = {};
  let next = 0;
  const send = (n: number): Promise<number> => {
    const id = n % 2 === 0 ? (ids[n % ids.length] ?? 'none') : randomUUID();
    const kinds: Array<{ path: string; body: string; headers: Record<string, string> }> = [
      { path: '/graph', body: JSON.stringify({ value: [{ subscriptionId: id, clientState: `guess-${n}` }] }), headers: { 'content-type': 'application/json' } },
      { path: '/graph/lifecycle', body: JSON.stringify({ value: [{ subscriptionId: id, clientState: `guess-${n}`, lifecycleEvent: 'subscriptionRemoved' }] }), headers: {} },
      { path: '/graph', body: `{"value": [${'{'.repeat(n % 50)}`, headers: {} },
      { path: '/drive', body: '', headers: { 'x-goog-channel-id': id, 'x-goog-channel-token': `guess-${n}`, 'x-goog-resource-state': 'change' } },
      { path: '/graph', body: 'x'.repeat(300_000), headers: {} },
    ];
    const k = kinds[n % kinds.length] as { path: string; body: string; headers: Record<string, string> };
    return new Promise((resolve) => {
      const req = request(`${b.publicUrl}${k.path}`, { method: 'POST', agent, headers: k.headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(-1));
      req.end(k.body);
    });
  };
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < total) {
        const status = await send(next++);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  agent.destroy();
  await b.service.notifications?.idle();
  let started = 0;
  for await (const _ of b.service.temporal.workflow.list({ query: `WorkflowType = "syncConnector" AND StartTime > "${since.toISOString()}"` })) started++;
  const echo = await fetch(`${b.publicUrl}/graph?validationToken=still-here`, { method: 'POST' });
  return {
    requests: total,
    seconds: Number(seconds.toFixed(1)),
    perSecond: Math.round(total / seconds),
    answers: statuses,
    workflowsStarted: started,
    stillAnswering: echo.status === 200 && (await echo.text()) === 'still-here',
    rejected: b.service.counters.render().split('\n').filter((l) => l.startsWith('connector_push_notifications_rejected_total')),
  };
}

async function main(): Promise<void> {
  const runId = randomUUID().slice(0, 8);
  const base = loadConfig({ SOURCE_BUDGET: 'per-worker', ...process.env, MINIO_BUCKET: `echomind-bench-${runId}`, TEMPORAL_TASK_QUEUE: `echomind-bench-${runId}` });
  const emu = await startGraphEmulator();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}/push`;
  const config = loadConfig({
    ...envFor(base),
    MS_GRAPH_BASE_URL: emu.settings.graphBaseUrl,
    MS_LOGIN_BASE_URL: emu.settings.loginBaseUrl,
    MS_GRAPH_CLIENT_ID: emu.settings.clientId,
    MS_GRAPH_CLIENT_SECRET: emu.settings.clientSecret,
    MS_GRAPH_TENANT_ID: emu.settings.tenantId,
    NOTIFICATION_PUBLIC_URL: publicUrl,
    NOTIFICATION_PORT: String(port),
    LOG_LEVEL: 'silent',
  });
  const service = await startService(config, createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent'), { migrate: true, health: false });
  const user = await service.db.insertInto('users').values({ email: `bench-push-${runId}@example.test` }).returning('id').executeTakeFirstOrThrow();
  const b: Bench = { service, emu, userId: user.id, publicUrl, streamName: config.nats.streamName };
  try {
    const connectors: Array<{ id: number; driveId: string }> = [];
    for (let i = 0; i < Number(args.connectors); i++) {
      const drive = emu.store.createDrive({ name: `Bench ${i}` });
      emu.addFile('/', 'seed.md', '# seed', { driveId: drive.id });
      connectors.push({ id: await pushConnector(b, drive.id), driveId: drive.id });
      progress(`connector ${i + 1} of ${args.connectors} synced and subscribed`);
    }
    const first = connectors[0] as { id: number; driveId: string };
    const report: Record<string, unknown> = { label: args.label, at: new Date().toISOString() };
    if (scenarios.has('latency')) report.latency = await latency(b, connectors, Number(args.changes), Number(args['spacing-ms']));
    progress('latency done');
    if (scenarios.has('burst')) report.burst = await burst(b, first.id, first.driveId);
    progress('burst done');
    if (scenarios.has('dropped')) report.dropped = await dropped(b, connectors);
    progress('dropped done');
    if (scenarios.has('fuzz')) report.fuzz = await fuzz(b, Number(args.fuzz));
    console.log(JSON.stringify(report, null, 2));
    mkdirSync(`${repoRoot}bench/results`, { recursive: true });
    writeFileSync(`${repoRoot}bench/results/${args.label}.json`, `${JSON.stringify(report, null, 2)}\n`);
    for (const c of connectors) await service.temporal.workflow.getHandle(pushKeeperWorkflowId(c.id)).terminate('bench over').catch(() => undefined);
  } finally {
    await service.stop();
    await emu.close();
  }
}

await main();
