import type { JetStreamClient } from '@nats-io/jetstream';
import type { Kysely } from 'kysely';
import type { RetryDelays } from '../src/db/failed-items.js';
import type { Database } from '../src/db/schema.js';
import type { SourceHttpOptions } from '../src/http/source-http.js';
import type { Config } from '../src/config.js';
import type { Logger } from '../src/logger.js';
import type { Counters } from '../src/metrics.js';
import type { SourceMemory } from '../src/providers/source-memory.js';
import type { SourceProvider } from '../src/providers/types.js';
import type { DocumentBucket } from '../src/storage/object-store.js';
import type { TransferSlots } from './transfer-slots.js';

/** The clients activities use, wired once by the worker (tests pass their own). */
export interface ActivityDeps {
  db: Kysely<Database>;
  store: DocumentBucket;
  jetstream: Pick<JetStreamClient, 'publish'>;
  providers: Partial<Record<string, SourceProvider>>;
  /** What the sources remember between activities (tokens, tenant pauses, keys): one per worker. */
  sourceMemory: SourceMemory;
  logger: Logger;
  maxFileSizeBytes: number;
  /** Files one batch activity transfers at once (default 8). */
  filesInFlightPerBatch?: number;
  /** How long a batch's publication records wait for each other (default RECORD_LINGER_MS; tests lengthen it). */
  recordLingerMs?: number;
  /** Transfers in flight on this worker across all syncs (WORKER_TRANSFER_CONCURRENCY); unbounded when absent. */
  transferSlots?: TransferSlots;
  /** Delays between a failed file's retries by later syncs (default 15 minutes doubling to a day). */
  failedItemRetry?: RetryDelays;
  /** Push subscriptions (the keeper's activities); absent on a worker built without them. */
  push?: PushDeps;
  /** Retry tuning for the source HTTP layer (tests shorten it). */
  http?: Partial<Omit<SourceHttpOptions, 'tenantKey' | 'pauses' | 'rateLimiter' | 'auth' | 'classify'>>;
}

/** What the push keeper's activities need besides the sync's clients. */
export interface PushDeps {
  /** NOTIFICATION_PUBLIC_URL: where the sources send notifications; absent: push is off and subscriptions are removed. */
  publicUrl?: string;
  microsoft: Config['microsoft'];
  google: Config['google'];
  /** Asks for a sync pass of the connector (signal-with-start, `SyncTrigger = "push"`), with the reason for its details. */
  requestSync(connectorId: number, reason: string): Promise<void>;
  counters?: Counters;
}
