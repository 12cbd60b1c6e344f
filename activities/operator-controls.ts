import { makeFailuresDue } from '../src/db/failed-items.js';
import type { ActivityDeps } from './deps.js';

/**
 * The database side of the operator controls (workflows/controls.ts).
 *
 * While paused the connector is `active`, not `syncing`: EchoMind's
 * orchestrator schedules only `active` and `error` connectors, so a paused
 * connector keeps being scheduled (its requests reach the paused sync as
 * `syncRequested` and become one more pass after `resume`), and if the paused
 * run were ever terminated the connector is not stranded the way a connector
 * left in `syncing` is (the contract's first known bug): the next request
 * starts a sync that resumes from the saved cursor. `error` would report a
 * fault that is not one, `disabled` is the owner's choice (and a disabled
 * connector is not synced), `pending` is never scheduled. `last_sync_at` is
 * left alone: the sync has not finished.
 */
export function operatorControlActivities(deps: ActivityDeps) {
  return {
    pauseSync: async (input: { connectorId: number; message: string }): Promise<void> => {
      await deps.db
        .updateTable('connectors')
        .set({ status: 'active', status_message: input.message, last_update: new Date() })
        .where('id', '=', input.connectorId)
        .execute();
      deps.logger.info({ connectorId: input.connectorId, statusMessage: input.message }, 'sync paused');
    },

    resumeSync: async (input: { connectorId: number }): Promise<void> => {
      await deps.db
        .updateTable('connectors')
        .set({ status: 'syncing', status_message: null, last_update: new Date() })
        .where('id', '=', input.connectorId)
        .execute();
      deps.logger.info({ connectorId: input.connectorId }, 'sync resumed');
    },

    /** Makes recorded failures due now (all, or the named source ids); returns how many. */
    makeFailedItemsDue: async (input: { connectorId: number; sourceIds?: string[] }): Promise<number> => {
      return makeFailuresDue(deps.db, input.connectorId, input.sourceIds);
    },
  };
}
