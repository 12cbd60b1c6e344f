import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { GrantPriority } from '../src/budget/quotas.js';
import type { ChangeCursor, SourceItem } from '../src/providers/types.js';
import type { ThrottleTally } from '../src/telemetry/throttle-tally.js';
import { skippedSummary } from './skip-reasons.js';

/**
 * Names and shapes shared by the workflow, its activities, the bridge and
 * tests. Deterministic code only: this file is bundled into the workflow.
 */

export const SYNC_WORKFLOW_TYPE = 'syncConnector';

/** Failure types the workflow, the activities and the retry policies know by name (listed once). */
export const FAILURE = {
  /** The connector row is missing: nothing to sync, nothing to report to. */
  connectorNotFound: 'ConnectorNotFound',
  /** The source refused for good (details say whether for one item or the whole sync). */
  sourcePermanent: 'SourcePermanentError',
  /** The source asked us to wait; Temporal retries after its delay. */
  throttled: 'Throttled',
  /** The source's host could not be reached (refused, reset, DNS): a network failure, not throttling. */
  sourceUnreachable: 'SourceUnreachable',
  /** Our own object store, PostgreSQL or NATS is unreachable: never blamed on an item. */
  dependencyUnavailable: 'DependencyUnavailable',
  /** The source kept failing on one item (5xx, cut or garbled answers) through every retry. */
  sourceItemError: 'SourceItemError',
  /** The object store refused this one object; an outage only if no other file gets through. */
  storeRejected: 'StoreRejected',
  /** The run's own failure, shown red in the Temporal UI with the status message. */
  syncFailed: 'SyncFailed',
} as const;

/** Failure types that retrying cannot help. */
export const NON_RETRYABLE_FAILURES: string[] = [FAILURE.connectorNotFound, FAILURE.sourcePermanent];

/** How a source is named to a person. */
export function sourceLabel(connectorType: string | undefined): string {
  switch (connectorType) {
    case 'onedrive':
      return 'OneDrive';
    case 'google_drive':
      return 'Google Drive';
    case 'teams':
      return 'Teams';
    default:
      return connectorType ?? 'connector';
  }
}

export const syncWorkflowId = (connectorId: number): string => `connector-sync-${connectorId}`;

/**
 * Temporal task priority (lower goes first; the server's default is 3 of 5 levels) of a sync's
 * workflow and activity tasks, from the request budget's own decision (`grantPriority` in
 * activities/sync-state.ts): incremental syncs, operator and push requests among them, ahead of
 * backfills (a first sync, or a whole enumeration under way) when tasks wait on the queue.
 */
export const TASK_PRIORITY_KEY: Record<GrantPriority, number> = { interactive: 2, backfill: 4 };

/** What starts a sync: a JSON object, so `temporal workflow start --input '{"connectorId": 7}'` works. */
export interface SyncConnectorInput {
  connectorId: number;
  /** From the triggering request; passed on in every DocumentProcessRequest. */
  chunkingSession?: string;
  /** Ignore the saved cursor and enumerate everything again (then sweep what is gone). */
  fullResync?: boolean;
  /** The type the request named; checked against the row. */
  expectedType?: string;
  /** Start a new run (continue-as-new) before history would pass this many events (a page as large as the largest so far must still fit). */
  maxHistoryEvents?: number;
  /**
   * Tries of one file's transfer before it is recorded as failed and the sync
   * goes on (default 8, about four minutes of retries).
   */
  transferAttempts?: number;
  /**
   * Only fetch again the files recorded as failed (all of them, whatever their
   * retry delay), without listing the source: the `retryFailed` control alone.
   */
  retryFailedOnly?: boolean;
  /** Internal: a retryFailed request the previous run had not served when it continued as new. */
  retryFailedPending?: boolean;
  /** Overrides of the transfer tuning (batch sizes, batches in flight); defaults in DEFAULT_TRANSFER_TUNING. */
  tuning?: Partial<TransferTuning>;
  /** Internal: carried across continue-as-new. */
  carry?: SyncCarry;
}

export interface SyncTotals {
  new: number;
  updated: number;
  unchanged: number;
  renamed: number;
  deleted: number;
  skipped: number;
  failed: number;
  pages: number;
  bytes: number;
  resyncs: number;
  /** Parts of the scope (Teams channels) listed again after the source refused their saved cursor. */
  relisted?: number;
  /** Periodic full enumerations started in this sync (the source said one was due). */
  scheduledEnumerations?: number;
}

export interface FailedItem {
  sourceId: string;
  name?: string;
  reason: string;
  /** Short machine reason (the source's error code, `tooLarge`), the label of the failures metric. */
  code?: string;
}

/** A failure to record in `connector_sync.failed_items`, with what a later sync needs to retry it. */
export interface ItemFailure extends FailedItem {
  item?: SourceItem;
}

export interface SyncCarry {
  totals: SyncTotals;
  failedItems: FailedItem[];
  skippedReasons: Record<string, number>;
  startedAt: string;
  runs: number;
  /** A sync request arrived that the pass under way cannot cover: make one more pass. */
  extraPass?: boolean;
  /** From beginSync: names the source in messages. */
  connectorType?: string;
  /** The run's title ("OneDrive sync of connector 7 · Marketing files"): continued runs show it in their details. */
  title?: string;
  /** Who started the sync's first run (`orchestrator`, `manual`). */
  trigger?: string;
  /** Throttle waits reported so far. */
  throttle?: ThrottleTally;
  /** A `fullResync` control not yet begun when the run continued as new. */
  fullResyncPending?: boolean;
  /** The budget's priority of the sync as of its last saved state (beginSync, then each commitPage): its activities' task priority. */
  priority?: GrantPriority;
}

export type SyncPhase = 'starting' | 'listing' | 'transferring' | 'committing' | 'paused' | 'retrying failed files' | 'finishing' | 'done';

export interface SyncProgress {
  connectorId: number;
  phase: SyncPhase;
  totals: SyncTotals;
  /** The most recent failures, newest last (at most 100 kept). */
  failedItems: FailedItem[];
  skippedReasons: Record<string, number>;
  inFlight: number;
  runs: number;
  /** Waiting at a page boundary for `resume`. */
  paused: boolean;
}

export interface SyncResult {
  outcome: 'synced' | 'skipped' | 'rejected' | 'failed' | 'cancelled';
  connectorId: number;
  message: string;
  totals: SyncTotals;
}

export const progressQuery = defineQuery<SyncProgress>('progress');
export const failedItemsQuery = defineQuery<FailedItem[]>('failedItems');
/**
 * Another sync request for this connector (the bridge sends it with
 * signal-with-start): a running sync makes one more pass from its saved cursor
 * before it finishes, so a change made after its last listing is not lost.
 */
export const syncRequestedSignal = defineSignal<[request?: { chunkingSession?: string; trigger?: string }]>('syncRequested');
/** Ask the running sync to finish its current page and stop cleanly. */
export const stopSignal = defineSignal<[reason?: string]>('stop');

export const emptyTotals = (): SyncTotals => ({
  new: 0,
  updated: 0,
  unchanged: 0,
  renamed: 0,
  deleted: 0,
  skipped: 0,
  failed: 0,
  pages: 0,
  bytes: 0,
  resyncs: 0,
});

/** Files still missing because they failed, as `finishSync` reads them from `connector_sync.failed_items`. */
export interface FailedFiles {
  count: number;
  /** A few of their names, for the message. */
  names: string[];
}

/**
 * "12 new, 3 updated, 2 deleted, 1 failed (broken.pdf)" — what an operator
 * reads in `status_message`. `failed` names the files that are still missing
 * (this sync's failures and earlier ones not yet stored); without it, this
 * sync's count.
 */
export function summarize(t: SyncTotals, skippedReasons: Record<string, number> = {}, failed?: FailedFiles): string {
  const parts = [`${t.new} new`, `${t.updated} updated`];
  if (t.renamed) parts.push(`${t.renamed} renamed`);
  parts.push(`${t.deleted} deleted`);
  if (t.unchanged) parts.push(`${t.unchanged} unchanged`);
  if (t.skipped) parts.push(skippedSummary(t.skipped, skippedReasons));
  parts.push(failedPart(failed ?? { count: t.failed, names: [] }));
  if (t.resyncs) parts.push('full re-enumeration after an expired cursor');
  if (t.relisted) parts.push(`${t.relisted} listed again after an expired cursor`);
  if (t.scheduledEnumerations) parts.push('periodic full enumeration');
  return parts.join(', ');
}

function failedPart({ count, names }: FailedFiles): string {
  if (count === 0 || names.length === 0) return `${count} failed`;
  const more = count > names.length ? ` and ${count - names.length} more` : '';
  return `${count} failed (${names.join(', ')}${more}; retried by later syncs, see the failedItems query)`;
}

// Activity payloads ---------------------------------------------------------

export type BeginSyncResult =
  | { kind: 'run'; connectorType: string; connector?: { name: string; scope: string | null; scopeId: string | null }; priority?: GrantPriority }
  | { kind: 'skip'; reason: string }
  | { kind: 'reject'; reason: string };

/**
 * What this service keeps in `connectors.state`: the source's cursor, and while
 * a full enumeration runs, its generation (the key of the sweep that follows it).
 */
export interface SyncState {
  v: 1;
  type: string;
  cursor: ChangeCursor | null;
  generation?: string;
  savedAt?: string;
}

/** A file to transfer: exactly what the source reported (plain JSON, so it travels through history). */
export type PlannedItem = SourceItem;

export interface ListedPage {
  /** Items whose bytes must be fetched (new, or signature changed, or never published). */
  transfers: PlannedItem[];
  /** Items with the same signature: how many got metadata updates. */
  unchanged: number;
  renamed: number;
  deleted: number;
  skipped: Array<{ sourceId: string; name?: string; reason: string }>;
  /** Items that failed without a transfer (e.g. over the size cap). */
  failed: ItemFailure[];
  /** The state to save once this page is durable (opaque to the workflow). */
  cursor: SyncState;
  hasMore: boolean;
  /** Set on the last page of a full enumeration: sweep what this generation did not see. */
  sweepGeneration?: string;
  /** With sweepGeneration: sweep only documents whose source id starts with one of these. */
  sweepOnly?: string[];
  resynced: boolean;
  /** Parts of the scope (Teams channels) listed again because the source refused their saved cursor. */
  relisted?: number;
  /** This page starts a periodic full enumeration (not an expired cursor). */
  scheduledEnumeration?: boolean;
}

export interface TransferOutcome {
  sourceId: string;
  /** `skipped`: the source withholds the file for good (its reason says why); not recorded as a failure. */
  result: 'new' | 'updated' | 'unchanged' | 'gone' | 'skipped' | 'failed';
  bytes: number;
  reason?: string;
  /** For a failure: the source's error code (e.g. accessDenied), the label of the failures metric. */
  code?: string;
}

/**
 * How a page's files travel. Small files go in batches, one activity per batch
 * (one connector read, one lookup of known documents, its own bounded
 * concurrency); a file larger than `largeFileBytes` gets an activity of its own.
 */
export interface TransferTuning {
  /** Files per batch at most. */
  filesPerBatch: number;
  /** Bytes per batch at most (by the sizes the source reports; unknown sizes count as largeFileBytes / 8). */
  bytesPerBatch: number;
  /** Above this reported size a file is transferred alone. */
  largeFileBytes: number;
  /** Batches and large files in flight per sync. */
  inFlight: number;
}

export const DEFAULT_TRANSFER_TUNING: TransferTuning = {
  filesPerBatch: 100,
  bytesPerBatch: 64 * 1024 * 1024,
  largeFileBytes: 16 * 1024 * 1024,
  inFlight: 2,
};

/**
 * Names one planned transfer step (a page's files, or a round of failed-file
 * retries): the same through every retry of its activities, and for a file a
 * batch hands back to transferFile. Stored with each version it makes, so a
 * retry reports that file as its earlier attempt did (new or updated), not as
 * unchanged. Absent (a workflow started by an older version): a retry counts
 * work an earlier attempt published as unchanged.
 */
interface PlannedTransfer {
  connectorId: number;
  chunkingSession?: string;
  transferId?: string;
}

/** One file alone. */
export interface TransferInput extends PlannedTransfer {
  item: PlannedItem;
}

/** One batch of small files of a page. */
export interface BatchInput extends PlannedTransfer {
  items: PlannedItem[];
  /** The page's number in this sync, for the activity summary and logs. */
  page: number;
}

/**
 * A file of a batch that hit a passing failure: the workflow gives it to
 * transferFile, whose retry policy and blame rules take over.
 */
export interface RetryAlone {
  sourceId: string;
  result: 'retry';
  bytes: 0;
  reason: string;
  /** The failure's type (SourceItemError, StoreRejected…). */
  failureType: string;
}

export type BatchOutcome = TransferOutcome | RetryAlone;

/** What commitPage and settleFailedItems write about a page's items, besides the cursor. */
export interface ItemSettlement {
  /** Failed for good in this sync: recorded (or their record updated) for a later retry. */
  failed: ItemFailure[];
  /** Stored, or found gone at the source: their failure record, if any, is dropped. */
  cleared: string[];
}

// Push subscriptions --------------------------------------------------------

/** The long-lived workflow per push connector that keeps its subscriptions alive (workflows/push-keeper.ts). */
export const PUSH_KEEPER_WORKFLOW_TYPE = 'keepPushSubscriptions';

export const pushKeeperWorkflowId = (connectorId: number): string => `push-keeper-${connectorId}`;

/** A Graph lifecycle notification the endpoint trusted, for the keeper to act on. */
export interface LifecycleEvent {
  event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';
  subscriptionId: string;
}

export interface PushKeeperTiming {
  /** Check the connector (still push? disabled? new channels?) at least this often. */
  recheckEveryMs: number;
  /** A sync pass at least this often, whatever the notifications (Graph does not report a lost one). */
  passEveryMs: number;
  /** Ask the source for subscriptions at most this long (tests shorten it; the source's own limit applies anyway). */
  lifetimeMs?: number;
  /** Continue as new past this many history events. */
  maxHistoryEvents: number;
}

export const DEFAULT_PUSH_KEEPER_TIMING: PushKeeperTiming = {
  recheckEveryMs: 15 * 60_000,
  passEveryMs: 24 * 60 * 60_000,
  maxHistoryEvents: 2000,
};

export interface PushKeeperInput {
  connectorId: number;
  timing?: Partial<PushKeeperTiming>;
  /** Internal, carried across continue-as-new: when the keeper last asked for a pass (ISO time). */
  lastPassAt?: string;
  /** Internal, carried across continue-as-new: lifecycle events not yet acted on. */
  pending?: LifecycleEvent[];
}

export interface PushKeeperResult {
  connectorId: number;
  /** Why the keeper ended: the connector is gone, disabled, or no longer push. */
  reason: string;
  removed: number;
}

/**
 * Check the connector's push subscriptions now (what the keeper does on its own every
 * `recheckEveryMs`), with a Graph lifecycle event when the notification endpoint relays one.
 */
export const checkSubscriptionsSignal = defineSignal<[request?: { lifecycle?: LifecycleEvent }]>('checkSubscriptions');

export interface KeepSubscriptionsInput {
  connectorId: number;
  lifecycle: LifecycleEvent[];
  lifetimeMs?: number;
}

export type KeepSubscriptionsResult =
  | { kind: 'stopped'; reason: string; removed: number }
  | {
      kind: 'kept';
      active: number;
      created: number;
      renewed: number;
      removed: number;
      failed: number;
      /** Why a sync pass is needed now (a missed notification, a subscription lost or not renewed). */
      syncNeeded?: string;
      /** When the next renewal is due, or a failed step is tried again (ISO time); absent: none. */
      nextCheckAt?: string;
    };
