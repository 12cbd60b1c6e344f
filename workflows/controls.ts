import { defineSignal } from '@temporalio/workflow';

/**
 * Operator controls of a running sync (signals: `temporal workflow signal
 * --workflow-id connector-sync-<id> --name <name>`). Deterministic code only.
 * `syncRequested` and `stop` live in definitions.ts with the bridge's names.
 */

/**
 * Fetch again the files recorded in `connector_sync.failed_items` (all of the
 * connector's, or the named source ids), whatever their retry delay: with the
 * pass under way, right after its last page. To retry them alone, without a
 * pass, start a run with `"retryFailedOnly": true` in its input.
 */
export const retryFailedSignal = defineSignal<[request?: { sourceIds?: string[] }]>('retryFailed');

/** Stop at the next page boundary, cursor saved, until `resume` (or `stop`). */
export const pauseSignal = defineSignal<[reason?: string]>('pause');
export const resumeSignal = defineSignal('resume');

/**
 * Re-enumerate everything from the next page boundary and sweep what is gone,
 * without cancelling the sync under way (its committed pages stay committed).
 */
export const fullResyncSignal = defineSignal('fullResync');

/** What the controls have asked of the run and not yet done. */
export interface ControlState {
  /** Set by `pause`, with the operator's reason; cleared by `resume`. */
  pauseRequested?: string;
  /** The run is waiting at a page boundary. */
  pausedAt?: { page: number; since: string };
  fullResyncRequested: boolean;
  /** `undefined`: no request; `'all'`: every recorded file; else these source ids. */
  retryFailedRequested?: 'all' | string[];
}

export const noControls = (): ControlState => ({ fullResyncRequested: false });

/** Adds a retryFailed request to what is already asked: all wins over a list; lists merge. */
export function mergeRetryRequest(current: ControlState['retryFailedRequested'], sourceIds?: string[]): 'all' | string[] {
  if (!sourceIds || current === 'all') return 'all';
  return [...new Set([...(current ?? []), ...sourceIds])];
}
