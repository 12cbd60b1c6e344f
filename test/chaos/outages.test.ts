import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import { createUser, waitFor } from '../support/integration.js';
import { syncRequestBytes } from '../support/service-harness.js';
import { SCALE } from './chaos-scale.js';
import type { GraphEmulator } from '../emulators/graph/index.js';
import { oneDriveSourceOn, type SourceUnderTest } from './sources.js';
import {
  exactlyOnce,
  killAllServices,
  outcomeOf,
  recordFigure,
  type ServiceProcess,
  sleep,
  spawnService,
  type StackServer,
  startStack,
  stopStackServer,
} from './support.js';
import { serviceSuite } from '../support/service-suite.js';
import type { Observer } from '../support/observer.js';

/**
 * Case 2 of the chaos suite (docs/RELIABILITY.md): NATS, PostgreSQL, the object store and the Temporal
 * server each stopped in the middle of a sync and started again. The sync
 * reaches the same result as without the outage; /healthz names the part that
 * is down while it is; a request published during the outage (or, for NATS,
 * right after it) is neither lost nor run twice.
 */

/** The name /healthz gives each server. */
const HEALTH_PART: Record<StackServer, string> = { nats: 'nats', postgres: 'database', s3: 'minio', temporal: 'temporal' };

let source: SourceUnderTest & { emulator: GraphEmulator };
let config: Config;
let observer: Observer;
let service: ServiceProcess;

serviceSuite({ graph: true, service: false, observer: true, reset: 'once' }, (suite) => {
  ({ config, observer } = suite);
  source = oneDriveSourceOn(suite.graph);
});

beforeAll(async () => {
  service = await spawnService(config, { role: 'all' });
});

afterAll(async () => {
  // Whatever a failed test left stopped comes back for the suites after this one.
  await startStack().catch(() => undefined);
  await killAllServices();
});

/** A probe that answers false while the observer's own connection to the stopped server is down. */
const tolerant = (probe: () => Promise<boolean>) => () => probe().catch(() => false);

async function countDocuments(connectorId: number): Promise<number> {
  const r = await observer.db
    .selectFrom('documents')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('connector_id', '=', connectorId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

async function workflowRunsSince(connectorId: number, since: Date): Promise<number> {
  let n = 0;
  for await (const _ of observer.temporal.workflow.list({ query: `WorkflowId = "connector-sync-${connectorId}" AND StartTime >= "${since.toISOString()}"` })) n++;
  return n;
}

async function connectorStatus(connectorId: number): Promise<string> {
  const row = await observer.db.selectFrom('connectors').select('status').where('id', '=', connectorId).executeTakeFirstOrThrow();
  return row.status;
}

describe.each(['nats', 'postgres', 's3', 'temporal'] as const)('%s stopped in the middle of a sync', (server) => {
  it(`for ${SCALE.outageSeconds} s: same result, /healthz names it while down, the bridge neither loses nor repeats a request`, async () => {
    const userId = await createUser(observer.db, `${server}@example.test`);
    const files = SCALE.outageFiles;
    // Each outage gets a folder of its own, and connectors that sync only it.
    const folder = `outage-${server}`;
    const { emulator } = source;
    const dir = emulator.addFolder('/', folder);
    for (let i = 0; i < files; i++) emulator.addFile(dir.id, `main-${i}.txt`, `main file ${i} `.repeat(50));
    const late = emulator.addFolder('/', `${folder}-late`);
    for (let i = 0; i < 5; i++) emulator.addFile(late.id, `late-${i}.txt`, `late ${i}`);
    const main = await source.connector(observer.db, userId, { folder_id: dir.id });
    const second = await source.connector(observer.db, userId, { folder_id: late.id });

    const started = new Date();
    await observer.js.publish(source.subject, syncRequestBytes({ connectorId: main, type: ConnectorType.ONEDRIVE, userId }));
    await waitFor('a fifth of the files stored', tolerant(async () => (await countDocuments(main)) >= files / 5), 300_000, 100);

    await stopStackServer(server);
    const downAt = Date.now();
    let health: { status: number; body: Record<string, unknown> };
    let publishedSecond: Date;
    try {
      // While it is down: /healthz says which part, with 503.
      let last: unknown;
      health = await waitFor(
        `/healthz to report ${server} down`,
        async () => {
          const h = await service.healthz().catch((e: unknown) => String(e));
          last = h;
          return typeof h === 'object' && h.status === 503 && h.body[HEALTH_PART[server]] === 'disconnected' ? h : undefined;
        },
        30_000,
        500,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}; last answer ${JSON.stringify(last)}; service ${service.exited() ? 'exited' : 'alive'}:\n${service.output().slice(-3000)}`);
      });
      publishedSecond = new Date();
      if (server !== 'nats') {
        // A request arriving during the outage.
        await observer.js.publish(source.subject, syncRequestBytes({ connectorId: second, type: ConnectorType.ONEDRIVE, userId }));
      }
      await sleep(Math.max(0, SCALE.outageSeconds * 1000 - (Date.now() - downAt)));
    } finally {
      // Whatever happened, the server comes back for the tests after this one.
      await startStack();
    }
    const downForMs = Date.now() - downAt;
    const otherParts = Object.entries(health.body).filter(([k, v]) => k !== HEALTH_PART[server] && v === 'disconnected').map(([k]) => k);
    if (server === 'nats') {
      await waitFor('the observer to reconnect to NATS', tolerant(async () => (await observer.jsm.streams.info(config.nats.streamName), true)), 60_000, 500);
      await observer.js.publish(source.subject, syncRequestBytes({ connectorId: second, type: ConnectorType.ONEDRIVE, userId }));
    }

    await waitFor(
      'both syncs to finish',
      tolerant(async () => ['active', 'error'].includes(await connectorStatus(main)) && ['active', 'error'].includes(await connectorStatus(second))),
      600_000,
      1000,
    );
    const healthy = await waitFor('/healthz healthy again', async () => ((await service.healthz().catch(() => undefined))?.status === 200 ? true : undefined), 60_000, 500);
    const mainOutcome = await outcomeOf(observer, config, main);
    const secondOutcome = await outcomeOf(observer, config, second);
    const secondRuns = await workflowRunsSince(second, publishedSecond);
    const mainRuns = await workflowRunsSince(main, started);
    recordFigure(`outages/${server}`, {
      downSeconds: Math.round(downForMs / 1000),
      files,
      healthzNamed: HEALTH_PART[server],
      alsoReportedDown: otherParts.join(' '),
      recoveredSeconds: Math.round((Date.now() - started.getTime()) / 1000),
      mainRuns,
      secondRuns,
      ...Object.fromEntries(Object.entries(mainOutcome).map(([k, v]) => [`main.${k}`, v])),
      ...Object.fromEntries(Object.entries(secondOutcome).map(([k, v]) => [`second.${k}`, v])),
      serviceAlive: !service.exited(),
    });

    expect(healthy).toBe(true);
    expect(service.exited(), service.output().slice(-3000)).toBe(false);
    expect(otherParts).toEqual([]);
    expect(mainOutcome).toMatchObject(exactlyOnce(files));
    // A first sync: every file new, whichever transfers the outage made Temporal retry.
    expect(mainOutcome.statusMessage).toMatch(new RegExp(`^${files} new, 0 updated`));
    expect(mainOutcome.statusMessage).not.toMatch(/unchanged/);
    expect(secondOutcome).toMatchObject({ status: 'active', liveRows: 5, objects: 5, messages: 5, distinctMessages: 5, duplicateMessages: 0 });
    expect(secondRuns).toBe(1);
  }, 900_000);
});
