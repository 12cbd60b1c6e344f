import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { requestSync } from '../bridge/request-sync.js';
import type { Database } from '../db/schema.js';

/**
 * A push-triggered sync request: the connector's type, name and scope read
 * from its row, then the bridge's own signal-with-start with
 * `SyncTrigger = "push"` and the reason in the run's details.
 */
export function pushSyncRequester(db: Kysely<Database>, temporal: Client, taskQueue: string): (connectorId: number, reason: string) => Promise<void> {
  return async (connectorId, reason) => {
    const row = await db.selectFrom('connectors').select(['type', 'name', 'scope', 'scope_id']).where('id', '=', connectorId).executeTakeFirst();
    if (!row) return;
    await requestSync(temporal, taskQueue, {
      connectorId,
      type: row.type,
      trigger: 'push',
      reason,
      connector: { name: row.name, scope: row.scope, scopeId: row.scope_id },
    });
  };
}
