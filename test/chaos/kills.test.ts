import { optionalTsToMs } from '@temporalio/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { SyncResult } from '../../workflows/definitions.js';
import { createUser, resetDatabase, resetJetStream, testConfig, waitFor } from '../support/integration.js';
import { syncRequestBytes } from '../support/service-harness.js';
import { SCALE } from './chaos-scale.js';
import { googleDriveSource, oneDriveSource, type SourceUnderTest } from './sources.js';
import {
  hostPort,
  type ServiceProcess,
  killAllServices,
  outcomeOf,
  recordFigure,
  seededRandom,
  spawnService,
  startHoldingProxy,
} from './support.js';
import { openObserver, type Observer } from '../support/observer.js';

/**
 * Case 1 of the chaos suite (docs/RELIABILITY.md): the worker process SIGKILLed at random moments of one
 * sync, restarted each time; and the bridge killed after Temporal accepted a
 * request but before it acknowledged the message. Afterwards: exactly one
 * object, one live row and one DocumentProcessRequest per file, connector `active`,
 * and counts that say so: every file new, none unchanged. Each kill lands while
 * a batch runs on the killed worker; the test measures how long until another
 * worker has it (the transfer heartbeat timeout and the first retry's delay).
 */

let observer: Observer;
const sources: SourceUnderTest[] = [];

beforeAll(async () => {
  observer = await openObserver(testConfig());
});

afterEach(async () => {
  await killAllServices();
});

afterAll(async () => {
  await killAllServices();
  await Promise.all(sources.map((s) => s.close()));
  await observer?.close();
});

const countDocuments = async (connectorId: number) =>
  Number(
    (
      await observer.db
        .selectFrom('documents')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('connector_id', '=', connectorId)
        .executeTakeFirstOrThrow()
    ).n,
  );

const TRANSFER_ACTIVITIES = new Set(['transferBatch', 'transferFile']);

/** A transfer activity as Temporal shows it: its attempt, which worker started it and when, and the retry's times. */
interface TransferAttempt {
  activityId: string;
  type: string;
  attempt: number;
  worker: string;
  startedAt: number | undefined;
  /** When the retry becomes available to any worker. */
  retryAt: number | undefined;
}

async function pendingTransfers(workflowId: string): Promise<TransferAttempt[]> {
  const d = await observer.temporal.workflow.getHandle(workflowId).describe();
  return (d.raw.pendingActivities ?? [])
    .filter((a) => TRANSFER_ACTIVITIES.has(a.activityType?.name ?? ''))
    .map((a) => ({
      activityId: a.activityId ?? '',
      type: a.activityType?.name ?? '',
      attempt: a.attempt ?? 0,
      worker: a.lastWorkerIdentity ?? '',
      startedAt: optionalTsToMs(a.lastStartedTime),
      retryAt: optionalTsToMs(a.nextAttemptScheduleTime),
    }));
}

/** The worker's identity as Temporal records it (the SDK's default: pid@host). */
const identityOf = (worker: ServiceProcess) => `${worker.child.pid}@`;

const seconds1 = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

const runningOn = (worker: ServiceProcess, all: TransferAttempt[]) => all.filter((a) => a.worker.startsWith(identityOf(worker)) && a.startedAt !== undefined);

/** What the takeover of a dead worker's transfers took, in ms from the kill (the slowest of them); undefined: none was cut off. */
interface Takeover {
  /** Until Temporal declared the attempts dead (heartbeat timeout), as the test saw the next attempt appear. */
  declaredDead: number;
  /** Until their retries were open to any live worker. */
  retryOpen: number;
  /** Until another worker had started them (in this test, the replacement worker once it is up). */
  restarted: number;
}

/** Watches the dead worker's transfers until another worker has started each (or it is no longer pending). */
async function takeoverAfter(workflowId: string, killed: TransferAttempt[], killedAt: number): Promise<Takeover | undefined> {
  const seen = new Map<string, { declaredDead?: number; retryOpen?: number; restarted?: number }>(killed.map((a) => [a.activityId, {}]));
  await waitFor(
    "another worker to take over the dead worker's transfers",
    async () => {
      const now = await pendingTransfers(workflowId);
      for (const before of killed) {
        const record = seen.get(before.activityId) ?? {};
        const after = now.find((a) => a.activityId === before.activityId);
        if (!after) {
          record.restarted ??= Date.now();
          continue;
        }
        if (after.attempt <= before.attempt) continue;
        record.declaredDead ??= Date.now();
        record.retryOpen ??= after.retryAt ?? after.startedAt;
        if (after.startedAt !== undefined && after.startedAt >= killedAt) record.restarted ??= after.startedAt;
      }
      return [...seen.values()].every((r) => r.restarted !== undefined);
    },
    180_000,
    100,
  );
  // Only the transfers the kill cut off (the others had finished as it came).
  const cut = [...seen.values()].filter((r) => r.declaredDead !== undefined);
  if (cut.length === 0) return undefined;
  const slowest = (pick: (r: { declaredDead?: number; retryOpen?: number; restarted?: number }) => number | undefined) =>
    Math.max(...cut.map((r) => (pick(r) ?? killedAt) - killedAt));
  return { declaredDead: slowest((r) => r.declaredDead), retryOpen: slowest((r) => r.retryOpen), restarted: slowest((r) => r.restarted) };
}

async function killDuringOneSync(source: SourceUnderTest) {
  sources.push(source);
  const files = SCALE.killFiles;
  source.populate(files);
  const config = testConfig(source.env);
  await resetJetStream(config);
  await resetDatabase(observer.db);
  const userId = await createUser(observer.db);
  const connectorId = await source.connector(observer.db, userId);
  const workflowId = `connector-sync-${connectorId}`;

  // The test decides how far the sync gets before each kill: downloads wait at a gate that lets a given
  // number through, so each kill lands while the worker waits for a file and the sync cannot finish first.
  const gate = source.gateDownloads();
  gate.shut();
  await spawnService(config, { role: 'bridge' });
  let worker = await spawnService(config, { role: 'worker' });
  const startedAt = Date.now();
  await observer.js.publish(source.subject, syncRequestBytes({ connectorId, type: source.type === 'onedrive' ? ConnectorType.ONEDRIVE : ConnectorType.GOOGLE_DRIVE, userId }));
  await waitFor('the sync to start', () => observer.temporal.workflow.getHandle(workflowId).describe().then(() => true, () => false), 60_000);

  // Each kill comes at a random point: after a random share of the files not let through yet is downloaded.
  // Fewer downloads are let through than there are files, so the sync is always still waiting at a kill.
  const random = seededRandom();
  const killedAt: number[] = [];
  const takeovers: Array<Takeover | undefined> = [];
  const workerStartMs: number[] = [];
  let letThrough = 0;
  try {
    for (let k = 0; k < SCALE.kills; k++) {
      const share = Math.floor(random.next() * ((files - letThrough) / (SCALE.kills - k + 1)));
      letThrough += share;
      gate.allow(share);
      // Mid-batch: every download let through is spent, the worker waits for the next one inside a batch.
      let running: TransferAttempt[] = [];
      await waitFor(
        'the worker to spend its downloads and wait inside a batch',
        async () => {
          if (gate.unused > 0 || gate.waiting === 0) return false;
          running = runningOn(worker, await pendingTransfers(workflowId));
          return running.some((a) => a.type === 'transferBatch');
        },
        600_000,
        20,
      );
      await worker.kill();
      const killTime = Date.now();
      const takeover = takeoverAfter(workflowId, running, killTime);
      killedAt.push(await countDocuments(connectorId));
      worker = await spawnService(config, { role: 'worker' });
      workerStartMs.push(Date.now() - killTime);
      takeovers.push(await takeover);
    }
  } finally {
    gate.open();
  }
  const result = (await observer.temporal.workflow.getHandle(workflowId).result()) as SyncResult;
  const seconds = Math.round((Date.now() - startedAt) / 1000);
  const outcome = await outcomeOf(observer, config, connectorId);
  recordFigure(`kills/${source.type}`, {
    files,
    kills: killedAt.length,
    filesStoredAtEachKill: killedAt.join(' '),
    // From each kill: until Temporal declared the dead worker's transfers dead, until their retries were
    // open to any live worker, until the replacement worker (started after the kill) had them running.
    // "-": the kill cut no transfer off (they had just finished).
    declaredDeadSeconds: takeovers.map((t) => seconds1(t?.declaredDead)).join(' '),
    retryOpenSeconds: takeovers.map((t) => seconds1(t?.retryOpen)).join(' '),
    restartedSeconds: takeovers.map((t) => seconds1(t?.restarted)).join(' '),
    replacementWorkerStartSeconds: workerStartMs.map((ms) => (ms / 1000).toFixed(1)).join(' '),
    seed: random.seed,
    seconds,
    totals: JSON.stringify(result.totals),
    ...outcome,
  });

  expect(killedAt.length, 'kills').toBe(SCALE.kills);
  expect(result.outcome).toBe('synced');
  expect(outcome).toMatchObject({
    status: 'active',
    liveRows: files,
    distinctUrls: files,
    objects: files,
    orphanObjects: 0,
    rowsWithoutObject: 0,
    messages: files,
    distinctMessages: files,
    duplicateMessages: 0,
    messagesForUnknownRows: 0,
  });
  // Every file was stored once by this first sync: the counts say so, however often a batch was retried.
  expect(result.totals).toMatchObject({ new: files, updated: 0, unchanged: 0, failed: 0 });
  expect(outcome.statusMessage).toMatch(new RegExp(`^${files} new, 0 updated`));
  expect(outcome.statusMessage).not.toMatch(/unchanged/);
  // How soon another worker may take a dead worker's batch is measured (recordFigure above: declaredDead,
  // retryOpen), not asserted: it is wall-clock time on a shared machine. What bounds it, the transfer
  // heartbeat timeout against how often batches beat, is asserted in test/activities.
}

describe('worker SIGKILLed at random moments of one sync', () => {
  it(`OneDrive: ${SCALE.killFiles} files, ${SCALE.kills} kills`, async () => {
    await killDuringOneSync(await oneDriveSource());
  }, 1_800_000);

  it(`Google Drive: ${SCALE.killFiles} files, ${SCALE.kills} kills`, async () => {
    await killDuringOneSync(await googleDriveSource());
  }, 1_800_000);
});

describe('bridge killed between Temporal accepting a request and acknowledging the message', () => {
  it('the redelivered request joins the same workflow: one run, nothing lost or repeated', async () => {
    const source = await oneDriveSource();
    sources.push(source);
    const files = 30;
    source.populate(files, 3);
    const config = testConfig(source.env);
    await resetJetStream(config);
    await resetDatabase(observer.db);
    const userId = await createUser(observer.db);
    const connectorId = await source.connector(observer.db, userId);
    const workflowId = `connector-sync-${connectorId}`;

    // The first bridge reaches Temporal through a proxy that can keep Temporal's answers from it.
    const proxy = await startHoldingProxy(hostPort(config.temporal.address));
    const publishedAt = new Date();
    try {
      const bridge = await spawnService(config, { role: 'bridge', env: { TEMPORAL_ADDRESS: proxy.address } });
      proxy.hold();
      await observer.js.publish(source.subject, syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId, chunkingSession: 'first' }));
      // Temporal has the workflow: the bridge's signal-with-start went through, its answer did not come back.
      await waitFor('Temporal to accept the start', () =>
        observer.temporal.workflow.getHandle(workflowId).describe().then((d) => d.startTime >= publishedAt, () => false),
      );
      await bridge.kill();
      expect(bridge.output()).not.toContain('sync workflow started or signalled');
    } finally {
      proxy.release();
      await proxy.close();
    }

    // The message was never acknowledged: JetStream hands it to the next bridge after the ack wait (30 s).
    const secondBridge = await spawnService(config, { role: 'bridge' });
    await waitFor('the redelivered request', () => Promise.resolve(secondBridge.output().includes('sync workflow started or signalled')), 120_000, 200);
    const worker = await spawnService(config, { role: 'worker' });
    const result = (await observer.temporal.workflow.getHandle(workflowId).result()) as SyncResult;
    await worker.terminate();

    const runs = [];
    // Only this test's runs: a local stack's Temporal may keep older runs of the same id (another database's connector).
    const since = new Date(publishedAt.getTime() - 1000).toISOString();
    for await (const w of observer.temporal.workflow.list({ query: `WorkflowId = "${workflowId}" AND StartTime >= "${since}"` })) runs.push(w);
    const history = await observer.temporal.workflow.getHandle(workflowId, runs.at(-1)?.runId).fetchHistory();
    const signals = (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'syncRequested').length;
    const outcome = await outcomeOf(observer, config, connectorId);
    recordFigure('kills/bridge-between-accept-and-ack', { files, workflowRuns: runs.length, syncRequestedSignals: signals, ...outcome });

    expect(result.outcome).toBe('synced');
    expect(runs).toHaveLength(1);
    expect(signals).toBe(2);
    expect(outcome).toMatchObject({ status: 'active', liveRows: files, objects: files, messages: files, distinctMessages: files, duplicateMessages: 0 });
  }, 300_000);
});
