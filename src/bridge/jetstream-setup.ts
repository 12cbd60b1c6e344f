import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { SYNC_SUBJECTS } from '../contract.js';
import type { Logger } from '../logger.js';

export const CONSUMER_DURABLE = 'connector-consumer';

/**
 * Creates the stream only when it is missing: in production EchoMind's
 * orchestrator owns it, and an existing one is never changed.
 */
export async function ensureStream(jsm: JetStreamManager, streamName: string, logger: Logger): Promise<void> {
  try {
    const info = await jsm.streams.info(streamName);
    const subjects = info.config.subjects ?? [];
    const covered = (s: string) => subjects.some((p) => p === s || p === 'connector.sync.*' || p === 'connector.sync.>' || p === '>');
    const missing = Object.values(SYNC_SUBJECTS).filter((s) => !covered(s));
    if (missing.length > 0) {
      logger.warn({ stream: streamName, missing }, 'the existing stream does not carry every sync subject; it is left unchanged');
    }
  } catch (e) {
    if ((e as { name?: string }).name !== 'StreamNotFoundError' && (e as { code?: number }).code !== 404) throw e;
    await jsm.streams.add({
      name: streamName,
      subjects: ['connector.sync.*', 'document.process'],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
    });
    logger.info({ stream: streamName }, 'created the missing JetStream stream');
  }
}

/**
 * The durable pull consumer every replica shares (work-queue semantics): each
 * request goes to one replica, and an unacknowledged one is redelivered.
 */
export async function ensureConsumer(jsm: JetStreamManager, streamName: string, ackWaitMs: number, maxDeliver: number): Promise<void> {
  const config = {
    durable_name: CONSUMER_DURABLE,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subjects: Object.values(SYNC_SUBJECTS),
    ack_wait: ackWaitMs * 1_000_000,
    max_deliver: maxDeliver,
    max_ack_pending: 256,
  };
  try {
    await jsm.consumers.info(streamName, CONSUMER_DURABLE);
    await jsm.consumers.update(streamName, CONSUMER_DURABLE, {
      ack_wait: config.ack_wait,
      max_deliver: config.max_deliver,
      filter_subjects: config.filter_subjects,
      max_ack_pending: config.max_ack_pending,
    });
  } catch (e) {
    if ((e as { name?: string }).name !== 'ConsumerNotFoundError' && (e as { code?: number }).code !== 404) throw e;
    await jsm.consumers.add(streamName, config);
  }
}
