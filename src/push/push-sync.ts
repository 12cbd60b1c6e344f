import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { readConnectorSummary } from '../bridge/connector-summary.js';
import { requestSync } from '../bridge/request-sync.js';
import type { Database } from '../db/schema.js';

/**
 * A push-triggered sync request: the connector's type, name, scope and priority
 * read from its row, then the bridge's own signal-with-start with
 * `SyncTrigger = "push"` and the reason in the run's details.
 */
export function pushSyncRequester(db: Kysely<Database>, temporal: Client, taskQueue: string): (connectorId: number, reason: string) => Promise<void> {
  return async (connectorId, reason) => {
    const connector = await readConnectorSummary(db, connectorId);
    if (!connector) return;
    await requestSync(temporal, taskQueue, { connectorId, type: connector.type, trigger: 'push', reason, connector });
  };
}
