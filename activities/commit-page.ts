import { findUnseen } from '../src/db/documents.js';
import type { ActivityDeps } from './deps.js';
import { deleteDocument } from './plan-page.js';
import { saveSyncState, type SyncState } from './sync-state.js';

const SWEEP_BATCH = 500;

export function commitPageActivity(deps: ActivityDeps) {
  /**
   * Called once every item of a page is durable. After the last page of a full
   * enumeration, deletes what that enumeration proved gone; then saves the
   * cursor. Safe to repeat: the sweep's marks are cleared in the same
   * transaction that saves the cursor.
   */
  return async function commitPage(input: { connectorId: number; state: Record<string, unknown>; sweepGeneration?: string }): Promise<{ swept: number }> {
    let swept = 0;
    if (input.sweepGeneration) {
      for (;;) {
        const gone = await findUnseen(deps.db, input.connectorId, input.sweepGeneration, SWEEP_BATCH);
        for (const doc of gone) await deleteDocument(deps, doc);
        swept += gone.length;
        if (gone.length < SWEEP_BATCH) break;
      }
      if (swept > 0) deps.logger.info({ connectorId: input.connectorId, swept }, 'deleted documents the full enumeration did not find');
    }
    await deps.db.transaction().execute(async (tx) => {
      await saveSyncState(tx, input.connectorId, input.state as unknown as SyncState);
      if (input.sweepGeneration) {
        await tx.deleteFrom('connector_sync.enumeration_marks').where('connector_id', '=', input.connectorId).execute();
      }
    });
    return { swept };
  };
}
