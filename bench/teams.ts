/**
 * A Teams first sync and a no-change resync through the Graph emulator,
 * against the real local stack (scripts/stack.sh up): wall time, Graph
 * requests (all, and the Teams ones that count against the 4/s team budget),
 * Temporal history events per document, the worker's peak RSS.
 *
 *   eval "$(bash scripts/stack.sh env)"
 *   npx tsx bench/teams.ts --channels 20 --threads 25 --replies 9     # 20 × 25 × (1 + 9) = 5,000 messages
 *   npx tsx bench/teams.ts --files 5 --label before                   # also 5 files in each channel's folder
 *
 * The emulator enforces Teams' budgets (4 requests/s per team or channel, 20/s
 * per tenant on channel messages) and counts the 429s it had to give: the
 * figure to read with the wall time. The worker runs as its own process, as in
 * production. Results are printed and written to bench/results/teams-<messages>[-<label>].json.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { ensureStream } from '../src/bridge/jetstream-setup.js';
import { loadConfig } from '../src/config.js';
import { createDatabase, migrateToLatest } from '../src/db/database.js';
import { createLogger } from '../src/logger.js';
import { startGraphEmulator } from '../test/emulators/graph/index.js';
import { envFor } from '../test/support/service-harness.js';
import type { SyncResult } from '../workflows/definitions.js';

const { values: args } = parseArgs({
  options: {
    channels: { type: 'string', default: '20' },
    threads: { type: 'string', default: '25' },
    replies: { type: 'string', default: '9' },
    /** Files of 4 KiB in each channel's files folder (the team library's drive delta walks them). */
    files: { type: 'string', default: '0' },
    label: { type: 'string', default: '' },
  },
});
const channels = Number(args.channels);
const threadsPerChannel = Number(args.threads);
const repliesPerThread = Number(args.replies);
const filesPerChannel = Number(args.files);
const messages = channels * threadsPerChannel * (1 + repliesPerThread);
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const nodeBin = `${repoRoot}node_modules/.bin/node`;

function peakRssKiB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const sentence = (i: number) =>
  `<p>Message ${i}: the <b>launch</b> checklist needs <at id="0">Bob Builder</at> to confirm the rollout window, see the notes below.</p><ul><li>item one</li><li>item two</li></ul>`;

async function main(): Promise<void> {
  const runId = randomUUID().slice(0, 8);
  // Teams' per-second limits as each worker keeps them, the way the figures in bench/README.md were measured.
  const base = loadConfig({ SOURCE_BUDGET: 'per-worker', ...process.env, MINIO_BUCKET: `echomind-bench-${runId}`, TEMPORAL_TASK_QUEUE: `echomind-bench-${runId}` });
  const db = createDatabase(base.databaseUrl);
  await migrateToLatest(db);
  // The worker runs without the bridge, which is what creates the stream on a fresh stack.
  const nats = await connect({ servers: base.nats.url, name: 'bench-teams' });
  await ensureStream(await jetstreamManager(nats), base.nats.streamName, createLogger('silent'));
  await nats.close();
  const user = await db.insertInto('users').values({ email: `bench-teams-${runId}@example.test` }).returning('id').executeTakeFirstOrThrow();

  const emu = await startGraphEmulator();
  const team = emu.teams.addTeam('Bench team');
  const earlier = Date.now() - 3600_000;
  let n = 0;
  for (let c = 0; c < channels; c++) {
    const channel = emu.teams.addChannel(team.id, `Channel ${c}`, { membershipType: c === 0 ? 'private' : c === 1 ? 'shared' : 'standard' });
    for (let t = 0; t < threadsPerChannel; t++) {
      const root = emu.teams.post(channel, { at: new Date(earlier + n), html: sentence(n++), mentions: [{ id: 0, mentionText: 'Bob Builder', userId: 'bob' }] });
      for (let r = 0; r < repliesPerThread; r++) emu.teams.reply(channel, root.id, { at: new Date(earlier + n), html: sentence(n++) });
    }
    const folder = emu.teams.filesFolderItem(channel);
    for (let f = 0; f < filesPerChannel; f++) emu.addFile(folder.id, `notes-${c}-${f}.txt`, `channel ${c} file ${f} `.repeat(256), { driveId: folder.driveId });
  }
  emu.teamsLimits.enforce = true;

  const config = loadConfig({
    ...envFor(base),
    MS_GRAPH_BASE_URL: emu.graphBaseUrl,
    MS_LOGIN_BASE_URL: emu.loginBaseUrl,
    MS_GRAPH_CLIENT_ID: emu.settings.clientId,
    MS_GRAPH_CLIENT_SECRET: emu.settings.clientSecret,
    MS_GRAPH_TENANT_ID: emu.settings.tenantId,
  });
  const connector = await db
    .insertInto('connectors')
    .values({ name: `bench teams ${runId}`, type: 'teams', config: JSON.stringify({ team_id: team.id, include_private_channels: true }), user_id: user.id })
    .returning('id')
    .executeTakeFirstOrThrow();

  const worker = spawn(nodeBin, ['--import', 'tsx', 'src/main.ts', '--worker-only'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...envFor(config, { LOG_LEVEL: 'warn', HEALTH_PORT: '0' }) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const pid = worker.pid ?? 0;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, peakRssKiB(pid))), 200);
  const client = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
  for (const started = Date.now(); ; ) {
    const d = await client.workflowService
      .describeTaskQueue({ namespace: config.temporal.namespace, taskQueue: { name: config.temporal.taskQueue }, taskQueueType: 1 })
      .catch(() => undefined);
    if ((d?.pollers?.length ?? 0) > 0) break;
    if (Date.now() - started > 180_000) throw new Error('the worker did not poll within 3 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }

  async function sync(label: string) {
    const requestsBefore = emu.requests.length;
    const workflowId = `bench-teams-${label}-${runId}`;
    const started = performance.now();
    const handle = await client.workflow.start('syncConnector', { taskQueue: config.temporal.taskQueue, workflowId, args: [{ connectorId: connector.id }] });
    const result = (await handle.result()) as SyncResult;
    const wallSeconds = (performance.now() - started) / 1000;
    let events = 0;
    for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) events += w.historyLength;
    const made = emu.requests.slice(requestsBefore);
    return {
      label,
      outcome: result.outcome,
      message: result.message,
      wallSeconds: Number(wallSeconds.toFixed(1)),
      graphRequests: made.length,
      teamsRequests: made.filter((r) => r.path.startsWith('/v1.0/teams/')).length,
      driveDeltaRequests: made.filter((r) => /^\/v1\.0\/drives\/[^/]+\/root\/delta/.test(r.path)).length,
      historyEvents: events,
    };
  }

  const first = await sync('first');
  const docs = Number(
    (await db.selectFrom('documents').select(db.fn.countAll<string>().as('n')).where('connector_id', '=', connector.id).executeTakeFirstOrThrow()).n,
  );
  const resync = await sync('resync');
  peak = Math.max(peak, peakRssKiB(pid));
  clearInterval(sampler);
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  await emu.close();
  await db.destroy();

  const report = {
    date: new Date().toISOString(),
    label: args.label,
    shape: { channels, threadsPerChannel, repliesPerThread, messages, threads: channels * threadsPerChannel, filesPerChannel },
    documents: docs,
    first: { ...first, eventsPerDocument: Number((first.historyEvents / docs).toFixed(2)) },
    resync: { ...resync, eventsPerDocument: Number((resync.historyEvents / docs).toFixed(2)) },
    throttledByEmulator: emu.teamsLimits.throttled,
    workerPeakRssMiB: Math.round(peak / 1024),
  };
  mkdirSync(`${repoRoot}bench/results`, { recursive: true });
  writeFileSync(`${repoRoot}bench/results/teams-${messages}${args.label ? `-${args.label}` : ''}.json`, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
