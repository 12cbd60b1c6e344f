import type { Kysely } from 'kysely';
import { grantPriority } from '../../activities/sync-state.js';
import type { Database } from '../db/schema.js';
import type { ConnectorSummary } from './run-description.js';

/**
 * One read of the connector's row for a sync request: its type, its name and
 * scope for the run's summary, and the budget's priority from its saved sync
 * state (a first sync or a whole enumeration under way is a backfill), which
 * becomes the run's task priority. Undefined when the row does not exist.
 */
export async function readConnectorSummary(db: Kysely<Database>, connectorId: number): Promise<(ConnectorSummary & { type: string }) | undefined> {
  const row = await db.selectFrom('connectors').select(['type', 'name', 'scope', 'scope_id', 'state']).where('id', '=', connectorId).executeTakeFirst();
  if (!row) return undefined;
  return { type: row.type, name: row.name, scope: row.scope, scopeId: row.scope_id, priority: grantPriority(row.state, row.type) };
}
