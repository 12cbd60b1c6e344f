import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Client } from '@temporalio/client';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Counters } from '../metrics.js';
import { InvalidSyncRequest, parseSyncTrigger } from '../wire/messages.js';
import { syncWorkflowId } from '../../workflows/definitions.js';
import { CONSUMER_DURABLE, ensureConsumer, ensureStream } from './jetstream-setup.js';
import { requestSync } from './request-sync.js';
import type { ConnectorSummary } from './run-description.js';

export interface SyncBridgeOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  temporal: Client;
  streamName: string;
  taskQueue: string;
  logger: Logger;
  counters: Counters;
  /**
   * The connector's name and scope for the run's summary in the Web UI, and its
   * task priority (a read of its row: src/bridge/connector-summary.ts). Undefined
   * when unknown; a failed lookup never holds up a start.
   */
  describeConnector?: (connectorId: number) => Promise<ConnectorSummary | undefined>;
  /** After a request was accepted: e.g. start a push connector's keeper. A failure is logged, never holds the message. */
  afterRequest?: (connectorId: number) => Promise<void>;
  /** How long JetStream waits for an ack before redelivering (starting a workflow takes milliseconds). */
  ackWaitMs?: number;
  maxDeliver?: number;
  /** Redelivery delay after a failed start: doubles per delivery, capped here. */
  maxNakDelayMs?: number;
}

/**
 * The thin NATS → Temporal bridge: one ConnectorSyncRequest becomes one start
 * (or join) of `syncConnector`, and the message is acknowledged only once
 * Temporal has accepted it.
 */
export class SyncBridge {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private consuming = false;

  constructor(private readonly opts: SyncBridgeOptions) {}

  get isConsuming(): boolean {
    return this.consuming;
  }

  async start(): Promise<void> {
    const { jsm, js, streamName, logger } = this.opts;
    await ensureStream(jsm, streamName, logger);
    await ensureConsumer(jsm, streamName, this.opts.ackWaitMs ?? 30_000, this.opts.maxDeliver ?? 20);
    const consumer = await js.consumers.get(streamName, CONSUMER_DURABLE);
    this.messages = await consumer.consume({ max_messages: 32 });
    this.consuming = true;
    this.loop = this.run(this.messages);
    logger.info({ stream: streamName, durable: CONSUMER_DURABLE }, 'bridge consuming sync requests');
  }

  async stop(): Promise<void> {
    this.consuming = false;
    await this.messages?.close();
    await this.loop;
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    for await (const msg of messages) {
      try {
        await this.handle(msg);
      } catch (e) {
        // handle() settles every message itself; this guards the loop against the unexpected.
        this.opts.logger.error({ error: describeError(e) }, 'bridge failed to settle a message');
      }
    }
    this.consuming = false;
  }

  /** Exposed for tests: settles one message (term, ack or nak). */
  async handle(msg: JsMsg): Promise<void> {
    const { logger, counters } = this.opts;
    const where = { subject: msg.subject, streamSeq: msg.seq, deliveries: msg.info.deliveryCount };
    let trigger;
    try {
      trigger = parseSyncTrigger(msg.subject, msg.data);
    } catch (e) {
      const reason = e instanceof InvalidSyncRequest ? e.reason : 'invalid';
      const message = describeError(e);
      logger.warn({ ...where, reason }, `sync request rejected: ${message}`);
      counters.inc('connector_bridge_messages_terminated_total', { reason });
      msg.term(message);
      return;
    }

    const workflowId = syncWorkflowId(trigger.connectorId);
    try {
      const connector = await this.connectorSummary(trigger.connectorId);
      const { runId } = await requestSync(this.opts.temporal, this.opts.taskQueue, {
        connectorId: trigger.connectorId,
        type: trigger.type,
        trigger: 'orchestrator',
        connector,
        chunkingSession: trigger.chunkingSession,
      });
      await msg.ackAck();
      counters.inc('connector_bridge_syncs_started_total', { type: trigger.type });
      logger.info({ ...where, connectorId: trigger.connectorId, workflowId, runId }, 'sync workflow started or signalled');
      await this.opts.afterRequest?.(trigger.connectorId).catch((e: unknown) => {
        logger.warn({ connectorId: trigger.connectorId, error: describeError(e) }, 'could not start the push keeper; the next request tries again');
      });
    } catch (e) {
      const delay = Math.min(this.opts.maxNakDelayMs ?? 300_000, 1000 * 2 ** Math.min(msg.info.deliveryCount, 16));
      counters.inc('connector_bridge_start_failures_total', { type: trigger.type });
      logger.error(
        { ...where, connectorId: trigger.connectorId, workflowId, retryInMs: delay, error: describeError(e) },
        'could not start the sync workflow; the request will be redelivered',
      );
      msg.nak(delay);
    }
  }

  private async connectorSummary(connectorId: number): Promise<ConnectorSummary | undefined> {
    if (!this.opts.describeConnector) return undefined;
    try {
      return await this.opts.describeConnector(connectorId);
    } catch (e) {
      this.opts.logger.warn({ connectorId, error: describeError(e) }, 'could not read the connector for the run summary; starting without its name');
      return undefined;
    }
  }
}
