import { clearFailures, clearFailuresNotSeen, DEFAULT_RETRY_DELAYS, recordFailures } from '../src/db/failed-items.js';
import { findUnseen } from '../src/db/documents.js';
import type { GrantPriority } from '../src/budget/quotas.js';
import type { ItemSettlement } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { deleteDocument } from './plan-page.js';
import { grantPriority, saveSyncState, type SyncState } from './sync-state.js';

const SWEEP_BATCH = 500;

export interface PageCommit extends ItemSettlement {
  connectorId: number;
  state: SyncState;
  /** Set after the last page of a full enumeration: delete what it did not see. */
  sweepGeneration?: string;
  /** With sweepGeneration: the enumeration covered only source ids starting with one of these. */
  sweepOnly?: string[];
}

/**
 * Deletes the documents a complete enumeration did not see (proven gone), and
 * the failure records of files it did not see. Safe to repeat: the marks stay
 * until the cursor is saved.
 */
async function sweepAfterEnumeration(deps: ActivityDeps, connectorId: number, generation: string, within?: string[]): Promise<number> {
  let swept = 0;
  for (;;) {
    const gone = await findUnseen(deps.db, connectorId, generation, SWEEP_BATCH, within);
    for (const doc of gone) await deleteDocument(deps, doc);
    swept += gone.length;
    if (gone.length < SWEEP_BATCH) break;
  }
  await clearFailuresNotSeen(deps.db, connectorId, generation, within);
  if (swept > 0) deps.logger.info({ connectorId, swept }, 'deleted documents the full enumeration did not find');
  return swept;
}

export function commitPageActivity(deps: ActivityDeps) {
  /**
   * Called once every item of a page is durable or recorded as failed. Sweeps
   * after a complete enumeration; then, in one transaction, records the page's
   * failures, drops the records of files now stored, and saves the cursor.
   */
  // `priority` is optional to the workflow: a commit recorded by an older worker has none.
  return async function commitPage(input: PageCommit): Promise<{ swept: number; priority?: GrantPriority }> {
    const swept = input.sweepGeneration ? await sweepAfterEnumeration(deps, input.connectorId, input.sweepGeneration, input.sweepOnly) : 0;
    await deps.db.transaction().execute(async (tx) => {
      await recordFailures(tx, input.connectorId, input.failed, deps.failedItemRetry ?? DEFAULT_RETRY_DELAYS);
      await clearFailures(tx, input.connectorId, input.cleared);
      await saveSyncState(tx, input.connectorId, input.state);
      if (input.sweepGeneration) {
        await tx.deleteFrom('connector_sync.enumeration_marks').where('connector_id', '=', input.connectorId).execute();
      }
    });
    // The saved state decides the sync's priority from now on (a backfill's last page makes it incremental).
    return { swept, priority: grantPriority(input.state, input.state.type) };
  };
}
