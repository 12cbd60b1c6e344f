import { clearFailures, DEFAULT_RETRY_DELAYS, dueFailures, recordFailures } from '../src/db/failed-items.js';
import type { ItemSettlement, PlannedItem } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';

/** The failed-item record of a connector, for the retries a later sync makes. */
export function failedItemActivities(deps: ActivityDeps) {
  return {
    /** Recorded files whose next try is due, as the source described them. */
    dueFailedItems: async (input: { connectorId: number; limit: number }): Promise<PlannedItem[]> => {
      return dueFailures(deps.db, input.connectorId, input.limit);
    },

    /** After a retry: failures recorded again (their delay grows), stored files dropped. */
    settleFailedItems: async (input: ItemSettlement & { connectorId: number }): Promise<void> => {
      await deps.db.transaction().execute(async (tx) => {
        await recordFailures(tx, input.connectorId, input.failed, deps.failedItemRetry ?? DEFAULT_RETRY_DELAYS);
        await clearFailures(tx, input.connectorId, input.cleared);
      });
    },
  };
}
