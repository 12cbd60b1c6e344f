import { afterAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { GraphEmulator } from '../emulators/graph/index.js';
import { waitFor } from '../support/integration.js';
import { syncRequestBytes } from '../support/service-harness.js';
import { SCALE } from './chaos-scale.js';
import { oneDriveSourceOn, type SourceUnderTest } from './sources.js';
import { exactlyOnce, killAllServices, outcomeOf, recordFigure, spawnService } from './support.js';
import { serviceSuite } from '../support/service-suite.js';
import type { Observer } from '../support/observer.js';

/**
 * Case 7 of the chaos suite (docs/RELIABILITY.md): two service processes (bridge and worker each) on the
 * same stack and task queue, one SIGKILLed in the middle of three concurrent
 * syncs. No duplicate workflow, no duplicate message, all three finish.
 */

let source: SourceUnderTest & { emulator: GraphEmulator };
let config: Config;
let observer: Observer;
let userId: number;

serviceSuite({ graph: true, service: false, observer: true }, (suite) => {
  ({ config, observer, userId } = suite);
  source = oneDriveSourceOn(suite.graph);
});

afterAll(async () => {
  await killAllServices();
});

describe('two replicas, one killed', () => {
  it(`three concurrent syncs of ${SCALE.replicaFiles} files survive the death of one of two replicas`, async () => {
    const { emulator } = source;
    const files = SCALE.replicaFiles;
    const connectors: number[] = [];
    for (let c = 0; c < 3; c++) {
      const dir = emulator.addFolder('/', `replica-${c}`);
      for (let i = 0; i < files; i++) emulator.addFile(dir.id, `r${c}-${i}.txt`, `replica ${c} file ${i} `.repeat(40));
      connectors.push(await source.connector(observer.db, userId, { folder_id: dir.id }));
    }
    const replicas = [await spawnService(config, { role: 'all' }), await spawnService(config, { role: 'all' })];
    const startedAt = new Date();
    // Each request twice, as an orchestrator retrying would: still one workflow per connector.
    for (const connectorId of [...connectors, ...connectors]) {
      await observer.js.publish(source.subject, syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId }));
    }
    const stored = async () =>
      Number(
        (
          await observer.db
            .selectFrom('documents')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('connector_id', 'in', connectors)
            .executeTakeFirstOrThrow()
        ).n,
      );
    await waitFor('a third of the files stored', async () => (await stored()) >= files, 300_000, 100);
    const victim = replicas[0];
    await victim?.kill();
    const storedAtKill = await stored();

    const statuses = async () =>
      (await observer.db.selectFrom('connectors').select('status').where('id', 'in', connectors).execute()).map((r) => r.status);
    await waitFor('all three syncs to finish', async () => (await statuses()).every((s) => s === 'active' || s === 'error'), 900_000, 1000);

    const runs: Record<number, number> = {};
    for (const connectorId of connectors) {
      runs[connectorId] = 0;
      for await (const _ of observer.temporal.workflow.list({ query: `WorkflowId = "connector-sync-${connectorId}" AND StartTime >= "${startedAt.toISOString()}"` })) {
        runs[connectorId] = (runs[connectorId] ?? 0) + 1;
      }
    }
    const outcomes = await Promise.all(connectors.map((id) => outcomeOf(observer, config, id)));
    recordFigure('replicas', {
      replicas: 2,
      killed: 1,
      concurrentSyncs: 3,
      filesEach: files,
      storedAtKill,
      workflowRuns: Object.values(runs).join(' '),
      liveRows: outcomes.map((o) => o.liveRows).join(' '),
      messages: outcomes.map((o) => o.messages).join(' '),
      duplicateMessages: outcomes.reduce((n, o) => n + o.duplicateMessages, 0),
      orphanObjects: outcomes.reduce((n, o) => n + o.orphanObjects, 0),
      survivorAlive: !replicas[1]?.exited(),
    });

    expect(replicas[1]?.exited()).toBe(false);
    expect(Object.values(runs)).toEqual([1, 1, 1]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject(exactlyOnce(files));
    }
  }, 1_200_000);
});
