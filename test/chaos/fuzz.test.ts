import { create, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ConnectorSyncRequestSchema } from '../../src/gen/echomind/internal/connector_sync_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { ConnectorScope, ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import { createConnector, createUser, resetDatabase, resetJetStream, testConfig, waitFor } from '../support/integration.js';
import { SCALE } from './chaos-scale.js';
import { googleDriveSource, oneDriveSource, type SourceUnderTest } from './sources.js';
import {
  counterValue,
  killAllServices,
  recordFigure,
  seededRandom,
  spawnService,
  type ServiceProcess,
} from './support.js';
import { openObserver, type Observer } from '../support/observer.js';

/**
 * Case 4 of the chaos suite (docs/RELIABILITY.md): fuzzed payloads on connector.sync.*: random bytes,
 * truncated and over-long protobuf, wrong enum values, huge strings, unknown,
 * disabled and soft-deleted connectors, types that disagree with the row or the
 * subject. Every message is terminated or its sync ends; the service never
 * crashes; no connector is left `syncing`.
 */

const SUBJECTS = ['connector.sync.onedrive', 'connector.sync.google_drive', 'connector.sync.teams'] as const;
const TYPE_OF_SUBJECT = {
  'connector.sync.onedrive': ConnectorType.ONEDRIVE,
  'connector.sync.google_drive': ConnectorType.GOOGLE_DRIVE,
  'connector.sync.teams': ConnectorType.TEAMS,
} as const;

let observer: Observer;
let config: Config;
let service: ServiceProcess;
const sources: SourceUnderTest[] = [];

beforeAll(async () => {
  const onedrive = await oneDriveSource();
  const drive = await googleDriveSource();
  sources.push(onedrive, drive);
  onedrive.populate(6, 2);
  drive.populate(6, 2);
  config = testConfig({ ...onedrive.env, ...drive.env });
  observer = await openObserver(config);
  await resetJetStream(config);
  service = await spawnService(config, { role: 'all' });
});

afterAll(async () => {
  await killAllServices();
  await Promise.all(sources.map((s) => s.close()));
  await observer?.close();
});

describe('fuzzed sync requests', () => {
  it(`${SCALE.fuzzedRequests} hostile payloads: each terminated or ended, the service stays up, no connector left syncing`, async () => {
    await resetDatabase(observer.db);
    const userId = await createUser(observer.db);
    const [onedrive, drive] = sources as [SourceUnderTest, SourceUnderTest];
    const rows = {
      onedrive: [await onedrive.connector(observer.db, userId), await onedrive.connector(observer.db, userId)],
      drive: [await drive.connector(observer.db, userId)],
      teams: [await createConnector(observer.db, { type: 'teams', config: {}, userId })],
      disabled: [await createConnector(observer.db, { type: 'onedrive', config: {}, userId, status: 'disabled' })],
      deleted: [await createConnector(observer.db, { type: 'google_drive', config: {}, userId, deleted: true })],
    };
    const everyRow = Object.values(rows).flat();
    const random = seededRandom();
    const int = (n: number) => Math.floor(random.next() * n);
    const choose = <T>(items: readonly T[]): T => items[int(items.length)] as T;
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
    const text = (n: number) => Array.from({ length: n }, () => String.fromCodePoint(choose([0x41 + int(26), 0x20, 0x0, 0x202e, 0x1f600, 0xfffd]))).join('');
    const request = (fields: Omit<MessageInitShape<typeof ConnectorSyncRequestSchema>, '$typeName'> = {}) =>
      toBinary(
        ConnectorSyncRequestSchema,
        create(ConnectorSyncRequestSchema, {
          connectorId: choose(everyRow),
          type: ConnectorType.ONEDRIVE,
          userId,
          scope: ConnectorScope.USER,
          chunkingSession: `fuzz-${int(1000)}`,
          ...fields,
        }),
      );

    // One kind of attack per message, chosen at random; the subject too.
    const kinds: Record<string, (subject: (typeof SUBJECTS)[number]) => Uint8Array> = {
      'random bytes': () => bytes(int(2048)),
      empty: () => new Uint8Array(0),
      truncated: (s) => {
        const full = request({ type: TYPE_OF_SUBJECT[s], chunkingSession: text(40) });
        return full.subarray(0, 1 + int(full.length - 1));
      },
      'over-long': (s) => {
        const full = request({ type: TYPE_OF_SUBJECT[s] });
        const tail = bytes(1 + int(512));
        const out = new Uint8Array(full.length + tail.length);
        out.set(full);
        out.set(tail, full.length);
        return out;
      },
      'wrong enum values': () => request({ type: choose([99, -1, 4, 5, 8, 1000]) as ConnectorType, scope: choose([42, -7]) as ConnectorScope }),
      'huge strings': (s) =>
        request({
          type: TYPE_OF_SUBJECT[s],
          connectorId: choose([...rows.onedrive, ...rows.drive]),
          chunkingSession: text(choose([10_000, 100_000, 300_000])),
          scopeId: text(50_000),
        }),
      'huge config and state': (s) =>
        request({ type: TYPE_OF_SUBJECT[s], config: { blob: text(100_000), nested: { deep: [text(1000)] } }, state: { cursor: text(50_000) } }),
      'unknown connector': (s) => request({ type: TYPE_OF_SUBJECT[s], connectorId: choose([0, -5, 2_147_483_647, 900_000 + int(1000)]) }),
      'disabled connector': () => request({ type: ConnectorType.ONEDRIVE, connectorId: rows.disabled[0] }),
      'soft-deleted connector': () => request({ type: ConnectorType.GOOGLE_DRIVE, connectorId: rows.deleted[0] }),
      'type disagrees with the row': () => request({ type: ConnectorType.GOOGLE_DRIVE, connectorId: choose(rows.onedrive) }),
      'type disagrees with the subject': (s) => request({ type: choose(Object.values(TYPE_OF_SUBJECT).filter((t) => t !== TYPE_OF_SUBJECT[s])) }),
      'valid request': (s) =>
        request({
          type: TYPE_OF_SUBJECT[s],
          connectorId: s === 'connector.sync.onedrive' ? choose(rows.onedrive) : s === 'connector.sync.google_drive' ? choose(rows.drive) : choose(rows.teams),
        }),
    };
    const sent: Record<string, number> = {};
    const publishedAt = new Date();
    for (let i = 0; i < SCALE.fuzzedRequests; i++) {
      const kind = choose(Object.keys(kinds));
      const subject = choose(SUBJECTS);
      sent[kind] = (sent[kind] ?? 0) + 1;
      await observer.js.publish(subject, (kinds[kind] as (s: typeof subject) => Uint8Array)(subject));
    }

    // Every message settled: none waiting, none delivered and unacknowledged.
    await waitFor(
      'every fuzzed message to be settled',
      async () => {
        if (service.exited()) throw new Error(`the service died:\n${service.output().slice(-4000)}`);
        const info = await observer.jsm.consumers.info(config.nats.streamName, 'connector-consumer');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      600_000,
      500,
    );
    // Every sync they started has ended.
    const runningQuery = `WorkflowType = "syncConnector" AND TaskQueue = "${config.temporal.taskQueue}" AND ExecutionStatus = "Running"`;
    await waitFor(
      'every sync started by a fuzzed message to end',
      async () => {
        if (service.exited()) throw new Error(`the service died:\n${service.output().slice(-4000)}`);
        for await (const _ of observer.temporal.workflow.list({ query: runningQuery })) return false;
        return true;
      },
      600_000,
      1000,
    );

    const closed: Record<string, number> = {};
    const failures = new Set<string>();
    const slow: string[] = [];
    for await (const w of observer.temporal.workflow.list({
      query: `WorkflowType = "syncConnector" AND TaskQueue = "${config.temporal.taskQueue}" AND StartTime >= "${publishedAt.toISOString()}"`,
    })) {
      closed[w.status.name] = (closed[w.status.name] ?? 0) + 1;
      const seconds = ((w.closeTime?.getTime() ?? Date.now()) - w.startTime.getTime()) / 1000;
      if (w.status.name === 'FAILED' || seconds > 60) {
        const result = await observer.temporal.workflow.getHandle(w.workflowId, w.runId).result().catch((e: unknown) => e);
        // The innermost cause: what a person reads.
        let cause: unknown = result;
        while ((cause as { cause?: unknown } | undefined)?.cause) cause = (cause as { cause: unknown }).cause;
        const message = String((cause as { message?: string } | undefined)?.message ?? cause);
        if (w.status.name === 'FAILED') failures.add(message.replace(/\d+/g, 'N').slice(0, 300));
        if (seconds > 60) slow.push(`${w.workflowId} ${w.status.name} after ${Math.round(seconds)} s: ${message.slice(0, 300)}`);
      }
    }
    const metrics = await service.metrics();
    const terminated = counterValue(metrics, 'connector_bridge_messages_terminated_total');
    const started = counterValue(metrics, 'connector_bridge_syncs_started_total');
    const stuck = await observer.db.selectFrom('connectors').select(['id', 'status']).where('status', '=', 'syncing').execute();
    const health = await service.healthz();
    recordFigure('fuzzed-requests', {
      requests: SCALE.fuzzedRequests,
      terminated,
      startedOrSignalled: started,
      workflowRuns: Object.values(closed).reduce((a, b) => a + b, 0),
      runsByStatus: JSON.stringify(closed),
      kinds: JSON.stringify(sent),
      serviceCrashes: service.exited() ? 1 : 0,
      connectorsLeftSyncing: stuck.length,
      seed: random.seed,
    });

    expect(service.exited()).toBe(false);
    expect(health.status).toBe(200);
    expect(terminated + started).toBe(SCALE.fuzzedRequests);
    expect(stuck).toEqual([]);
    expect(Object.keys(closed).filter((s) => s !== 'COMPLETED' && s !== 'FAILED' && s !== 'CONTINUED_AS_NEW')).toEqual([]);
    // A failed run is a request for a connector that does not exist, or one whose config cannot be synced
    // (the Teams row has no team_id), said so plainly.
    expect([...failures].filter((m) => !/connector N does not exist|cannot be synced by this version|connector config "\w+"/i.test(m))).toEqual([]);
    // Nothing a request carries makes a sync retry for minutes.
    expect(slow).toEqual([]);
    const rowsAfter = await observer.db.selectFrom('connectors').select(['id', 'status', 'status_message']).execute();
    expect(rowsAfter.find((r) => r.id === rows.disabled[0])?.status).toBe('disabled');
    expect(rowsAfter.filter((r) => rows.onedrive.includes(r.id) || rows.drive.includes(r.id)).map((r) => r.status)).not.toContain('syncing');
  }, 1_200_000);
});
