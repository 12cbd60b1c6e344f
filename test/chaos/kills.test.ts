import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { SyncResult } from '../../workflows/definitions.js';
import { createUser, resetDatabase, resetJetStream, testConfig, waitFor } from '../support/integration.js';
import { syncRequestBytes } from '../support/service-harness.js';
import { SCALE } from './chaos-scale.js';
import { googleDriveSource, oneDriveSource, type SourceUnderTest } from './sources.js';
import {
  hostPort,
  killAllServices,
  outcomeOf,
  recordFigure,
  seededRandom,
  sleep,
  spawnService,
  startHoldingProxy,
} from './support.js';
import { openObserver, type Observer } from '../support/observer.js';

/**
 * Item 1 of issue 11: the worker process SIGKILLed at random moments of one
 * sync, restarted each time; and the bridge killed after Temporal accepted a
 * request but before it acknowledged the message. Afterwards: exactly one
 * object, one live row and one DocumentProcessRequest per file, connector `active`.
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

async function isClosed(workflowId: string): Promise<boolean> {
  const d = await observer.temporal.workflow.getHandle(workflowId).describe();
  return d.status.name !== 'RUNNING';
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

  await spawnService(config, { role: 'bridge' });
  let worker = await spawnService(config, { role: 'worker' });
  const startedAt = Date.now();
  await observer.js.publish(source.subject, syncRequestBytes({ connectorId, type: source.type === 'onedrive' ? ConnectorType.ONEDRIVE : ConnectorType.GOOGLE_DRIVE, userId }));
  await waitFor('the sync to start', () => observer.temporal.workflow.getHandle(workflowId).describe().then(() => true, () => false), 60_000);

  // Each kill comes at a random moment: after a random share of the remaining files is durable, plus up to 100 ms
  // (a small sync takes about two seconds now, so a longer pause could let it finish before the kill).
  const random = seededRandom();
  const killedAt: number[] = [];
  for (let k = 0; k < SCALE.kills; k++) {
    const before = await countDocuments(connectorId);
    const target = before + Math.floor(random.next() * ((files - before) / (SCALE.kills - k + 1)));
    await waitFor(
      'the sync to make progress before the next kill',
      async () => (await countDocuments(connectorId)) >= target || (await isClosed(workflowId)),
      600_000,
      50,
    );
    await sleep(random.next() * 100);
    if (await isClosed(workflowId)) break;
    await worker.kill();
    killedAt.push(await countDocuments(connectorId));
    worker = await spawnService(config, { role: 'worker' });
  }
  const result = (await observer.temporal.workflow.getHandle(workflowId).result()) as SyncResult;
  const seconds = Math.round((Date.now() - startedAt) / 1000);
  const outcome = await outcomeOf(observer, config, connectorId);
  recordFigure(`kills/${source.type}`, {
    files,
    kills: killedAt.length,
    filesStoredAtEachKill: killedAt.join(' '),
    seed: random.seed,
    seconds,
    ...outcome,
  });

  expect(killedAt.length, 'every kill came before the sync finished').toBe(SCALE.kills);
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
