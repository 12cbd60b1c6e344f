import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SourceItem } from '../src/providers/types.js';

/**
 * Names and shapes shared by the workflow, its activities, the bridge and
 * tests. Deterministic code only: this file is bundled into the workflow.
 */

export const SYNC_WORKFLOW_TYPE = 'syncConnector';

export const syncWorkflowId = (connectorId: number): string => `connector-sync-${connectorId}`;

/** What starts a sync: a JSON object, so `temporal workflow start --input '{"connectorId": 7}'` works. */
export interface SyncConnectorInput {
  connectorId: number;
  /** From the triggering request; passed on in every DocumentProcessRequest. */
  chunkingSession?: string;
  /** Ignore the saved cursor and enumerate everything again (then sweep what is gone). */
  fullResync?: boolean;
  /** The type the request named; checked against the row. */
  expectedType?: string;
  /** Start a new run (continue-as-new) once history passes this many events. */
  maxHistoryEvents?: number;
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
}

export interface FailedItem {
  sourceId: string;
  name?: string;
  reason: string;
  /** Short machine reason (the source's error code, `tooLarge`), the label of the failures metric. */
  code?: string;
}

export interface SyncCarry {
  totals: SyncTotals;
  failedItems: FailedItem[];
  skippedReasons: Record<string, number>;
  startedAt: string;
  runs: number;
  /** A sync request arrived that the pass under way cannot cover: make one more pass. */
  extraPass?: boolean;
}

export type SyncPhase = 'starting' | 'listing' | 'transferring' | 'committing' | 'finishing' | 'done';

export interface SyncProgress {
  connectorId: number;
  phase: SyncPhase;
  totals: SyncTotals;
  /** The most recent failures, newest last (at most 100 kept). */
  failedItems: FailedItem[];
  skippedReasons: Record<string, number>;
  inFlight: number;
  runs: number;
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
export const syncRequestedSignal = defineSignal<[request?: { chunkingSession?: string }]>('syncRequested');
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

/** "12 new, 3 updated, 2 deleted, 1 failed" — what an operator reads in `status_message`. */
export function summarize(t: SyncTotals, skippedReasons: Record<string, number> = {}): string {
  const parts = [`${t.new} new`, `${t.updated} updated`];
  if (t.renamed) parts.push(`${t.renamed} renamed`);
  parts.push(`${t.deleted} deleted`);
  if (t.unchanged) parts.push(`${t.unchanged} unchanged`);
  if (t.skipped) {
    const reasons = Object.entries(skippedReasons)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ');
    parts.push(`${t.skipped} skipped${reasons ? ` (${reasons})` : ''}`);
  }
  parts.push(`${t.failed} failed`);
  if (t.resyncs) parts.push('full re-enumeration after an expired cursor');
  return parts.join(', ');
}

// Activity payloads ---------------------------------------------------------

export type BeginSyncResult =
  | { kind: 'run'; connectorType: string }
  | { kind: 'skip'; reason: string }
  | { kind: 'reject'; reason: string };

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
  /** Items that failed for good without a transfer (e.g. over the size cap). */
  failed: FailedItem[];
  /** The cursor to save once this page is durable (opaque to the workflow). */
  cursor: Record<string, unknown>;
  hasMore: boolean;
  /** Set on the last page of a full enumeration: sweep what this generation did not see. */
  sweepGeneration?: string;
  resynced: boolean;
}

export interface TransferOutcome {
  sourceId: string;
  result: 'new' | 'updated' | 'unchanged' | 'gone' | 'failed';
  bytes: number;
  reason?: string;
  /** For a failure: the source's error code (e.g. accessDenied), the label of the failures metric. */
  code?: string;
}
