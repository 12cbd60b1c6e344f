import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { ConnectorSummary } from '../../src/bridge/run-description.js';
import { SyncBridge } from '../../src/bridge/sync-bridge.js';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import { createLogger } from '../../src/logger.js';
import { Counters } from '../../src/metrics.js';
import { syncRequestBytes } from '../support/service-harness.js';

/** A JetStream message that records how it was settled. */
function message(subject: string, data: Uint8Array, deliveryCount = 1) {
  const settled: string[] = [];
  const msg = {
    subject,
    data,
    seq: 1,
    info: { deliveryCount },
    term: (reason?: string) => settled.push(`term:${reason ?? ''}`),
    nak: (millis?: number) => settled.push(`nak:${millis ?? 0}`),
    ackAck: () => {
      settled.push('ack');
      return Promise.resolve(true);
    },
  };
  return { msg: msg as unknown as JsMsg, settled };
}

function bridgeWith(
  signalWithStart: (type: string, options: Record<string, unknown>) => Promise<unknown>,
  describeConnector?: (id: number) => Promise<ConnectorSummary | undefined>,
) {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream);
  const counters = new Counters();
  const temporal = { workflow: { signalWithStart } } as unknown as Client;
  const bridge = new SyncBridge({
    js: {} as JetStreamClient,
    jsm: {} as JetStreamManager,
    temporal,
    streamName: 'ECHOMIND',
    taskQueue: 'q',
    logger,
    counters,
    maxNakDelayMs: 60_000,
    ...(describeConnector ? { describeConnector } : {}),
  });
  return { bridge, counters, lines };
}

describe('the NATS bridge', () => {
  it('signals-with-start connector-sync-<id> with only ids in the input, then acks', async () => {
    const starts: Array<Record<string, unknown>> = [];
    const { bridge, counters, lines } = bridgeWith((_type, options) => {
      starts.push(options);
      return Promise.resolve({ signaledRunId: 'run-1' });
    });
    const { msg, settled } = message(
      'connector.sync.onedrive',
      syncRequestBytes({ connectorId: 7, type: ConnectorType.ONEDRIVE, chunkingSession: 'c-1', config: { refresh_token: 'SECRET-RT' } }),
    );
    await bridge.handle(msg);
    expect(settled).toEqual(['ack']);
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({
      workflowId: 'connector-sync-7',
      taskQueue: 'q',
      args: [{ connectorId: 7, expectedType: 'onedrive', chunkingSession: 'c-1' }],
      signalArgs: [{ chunkingSession: 'c-1', trigger: 'orchestrator' }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    expect((starts[0]?.signal as { name?: string }).name).toBe('syncRequested');
    expect(JSON.stringify(starts)).not.toContain('SECRET-RT');
    expect(lines.join('')).not.toContain('SECRET-RT');
    expect(counters.get('connector_bridge_syncs_started_total', { type: 'onedrive' })).toBe(1);
  });

  it('naks with a growing delay while Temporal is unreachable, and never acks', async () => {
    const { bridge, counters } = bridgeWith(() => Promise.reject(new Error('14 UNAVAILABLE: connection refused')));
    const bytes = syncRequestBytes({ connectorId: 7, type: ConnectorType.ONEDRIVE });
    const first = message('connector.sync.onedrive', bytes, 1);
    const fifth = message('connector.sync.onedrive', bytes, 5);
    const late = message('connector.sync.onedrive', bytes, 30);
    await bridge.handle(first.msg);
    await bridge.handle(fifth.msg);
    await bridge.handle(late.msg);
    expect(first.settled).toEqual(['nak:2000']);
    expect(fifth.settled).toEqual(['nak:32000']);
    expect(late.settled).toEqual(['nak:60000']);
    expect(counters.get('connector_bridge_start_failures_total', { type: 'onedrive' })).toBe(3);
  });

  it('terminates a message it cannot use, with the reason, and starts nothing', async () => {
    let started = 0;
    const { bridge, counters, lines } = bridgeWith(() => {
      started++;
      return Promise.resolve({});
    });
    const garbage = message('connector.sync.teams', new Uint8Array([0xff, 0x01]));
    await bridge.handle(garbage.msg);
    expect(garbage.settled[0]).toMatch(/^term:message is not a ConnectorSyncRequest/);
    expect(started).toBe(0);
    expect(counters.get('connector_bridge_messages_terminated_total', { reason: 'undecodable' })).toBe(1);
    expect(lines.some((l) => l.includes('"reason":"undecodable"'))).toBe(true);
  });

  it('names the run for the Web UI: summary with the connector name, details, and search attributes incl. SyncTrigger', async () => {
    const starts: Array<Record<string, unknown>> = [];
    const { bridge } = bridgeWith(
      (_type, options) => {
        starts.push(options);
        return Promise.resolve({ signaledRunId: 'run-1' });
      },
      (id) => Promise.resolve(id === 7 ? { name: 'Marketing files', scope: 'team', scopeId: 'T-42' } : undefined),
    );
    const { msg } = message('connector.sync.onedrive', syncRequestBytes({ connectorId: 7, type: ConnectorType.ONEDRIVE, chunkingSession: 'c-9' }));
    await bridge.handle(msg);
    expect(starts[0]?.staticSummary).toBe('OneDrive sync of connector 7 · Marketing files');
    expect(starts[0]?.staticDetails).toBe('**Type:** onedrive\n\n**Scope:** team (T-42)\n\n**Trigger:** orchestrator\n\n**Chunking session:** c-9');
    const attributes = starts[0]?.typedSearchAttributes as Array<{ key: { name: string; type: string }; value: unknown }>;
    expect(attributes.map((a) => [a.key.name, a.key.type, a.value])).toEqual([
      ['ConnectorId', 'INT', 7],
      ['ConnectorType', 'KEYWORD', 'onedrive'],
      ['SyncTrigger', 'KEYWORD', 'orchestrator'],
    ]);
  });

  it("starts the run at the task priority of the connector's saved state, and says so in its details", async () => {
    const starts: Array<Record<string, unknown>> = [];
    const { bridge } = bridgeWith(
      (_type, options) => {
        starts.push(options);
        return Promise.resolve({ signaledRunId: 'run-1' });
      },
      (id) => Promise.resolve({ name: `connector ${id}`, scope: null, scopeId: null, priority: id === 7 ? 'interactive' : 'backfill' }),
    );
    for (const connectorId of [7, 8]) await bridge.handle(message('connector.sync.onedrive', syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE })).msg);
    expect(starts.map((s) => s.priority)).toEqual([{ priorityKey: 2 }, { priorityKey: 4 }]);
    expect(starts[0]?.staticDetails).toContain('**Priority:** incremental, ahead of backfills (task priority 2)');
    expect(starts[1]?.staticDetails).toContain('**Priority:** backfill (a first sync or a whole enumeration), after incremental syncs (task priority 4)');
  });

  it('still starts the sync, without the name, when the connector row cannot be read', async () => {
    const starts: Array<Record<string, unknown>> = [];
    const { bridge, lines } = bridgeWith(
      (_type, options) => {
        starts.push(options);
        return Promise.resolve({ signaledRunId: 'run-1' });
      },
      () => Promise.reject(new Error('connection refused')),
    );
    const { msg, settled } = message('connector.sync.google_drive', syncRequestBytes({ connectorId: 9, type: ConnectorType.GOOGLE_DRIVE }));
    await bridge.handle(msg);
    expect(settled).toEqual(['ack']);
    expect(starts[0]?.staticSummary).toBe('Google Drive sync of connector 9');
    expect(starts[0]?.staticDetails).toContain('**Scope:** unknown');
    expect(starts[0]?.staticDetails).toContain('**Chunking session:** none');
    // Its priority unknown, the run starts at the server's default (between incremental syncs and backfills).
    expect(starts[0]?.priority).toBeUndefined();
    expect(starts[0]?.staticDetails).not.toContain('**Priority:**');
    expect(lines.some((l) => l.includes('could not read the connector for the run summary'))).toBe(true);
  });
});
