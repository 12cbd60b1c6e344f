import { ApplicationFailure } from '@temporalio/activity';
import { failedFilesSummary } from '../src/db/failed-items.js';
import { MAX_CONNECTOR_ID } from '../src/contract.js';
import type { ConnectorRow } from '../src/db/schema.js';
import { summarize, type BeginSyncResult, type SyncTotals } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { FAILURE } from './failures.js';
import { grantPriority } from './sync-state.js';

export async function loadConnector(deps: ActivityDeps, connectorId: number): Promise<ConnectorRow> {
  // Out of SMALLINT range PostgreSQL refuses the query itself, which would be retried as if the database were down.
  const inRange = Number.isInteger(connectorId) && connectorId > 0 && connectorId <= MAX_CONNECTOR_ID;
  const row = inRange ? await deps.db.selectFrom('connectors').selectAll().where('id', '=', connectorId).executeTakeFirst() : undefined;
  if (!row) {
    throw ApplicationFailure.create({
      type: FAILURE.connectorNotFound,
      message: `connector ${connectorId} does not exist in the connectors table; nothing was synced`,
      nonRetryable: true,
    });
  }
  return row;
}

export function connectorLifecycle(deps: ActivityDeps) {
  return {
    /**
     * Checks the connector may be synced and marks it `syncing`. A deleted or
     * disabled connector is left as it is; one whose type disagrees with the
     * request is set to `error`.
     */
    beginSync: async (input: { connectorId: number; expectedType?: string }): Promise<BeginSyncResult> => {
      const row = await loadConnector(deps, input.connectorId);
      if (row.deleted_date !== null) {
        return { kind: 'skip', reason: `connector ${row.id} was deleted on ${new Date(row.deleted_date).toISOString()}` };
      }
      if (row.status === 'disabled') return { kind: 'skip', reason: `connector ${row.id} is disabled` };
      if (input.expectedType && input.expectedType !== row.type) {
        const reason = `sync request said type "${input.expectedType}" but connector ${row.id} is "${row.type}"; not synced`;
        await setStatus(deps, row.id, 'error', reason);
        return { kind: 'reject', reason };
      }
      await setStatus(deps, row.id, 'syncing', null);
      return {
        kind: 'run',
        connectorType: row.type,
        connector: { name: row.name, scope: row.scope, scopeId: row.scope_id },
        priority: grantPriority(row.state, row.type),
      };
    },

    /**
     * Success: `active`, `last_sync_at`, and a one-line summary naming the
     * files still missing because they failed. (`docs_analyzed` grows as each
     * publication is recorded, so a run that failed part-way counts too.)
     */
    finishSync: async (input: { connectorId: number; totals: SyncTotals; skippedReasons: Record<string, number> }): Promise<{ summary: string }> => {
      const failed = await failedFilesSummary(deps.db, input.connectorId);
      const summary = summarize(input.totals, input.skippedReasons, failed);
      await deps.db
        .updateTable('connectors')
        .set({ status: 'active', status_message: summary, last_sync_at: new Date(), last_update: new Date() })
        .where('id', '=', input.connectorId)
        .execute();
      deps.logger.info({ connectorId: input.connectorId, totals: input.totals, summary }, 'sync finished');
      return { summary };
    },

    /** Failure: `error` with a message a person can act on (the workflow words it). */
    failSync: async (input: { connectorId: number; message: string }): Promise<void> => {
      await setStatus(deps, input.connectorId, 'error', input.message);
      deps.logger.error({ connectorId: input.connectorId, statusMessage: input.message }, 'sync ended in error');
    },
  };
}

async function setStatus(deps: ActivityDeps, connectorId: number, status: string, message: string | null): Promise<void> {
  await deps.db
    .updateTable('connectors')
    .set({ status, status_message: message, last_update: new Date() })
    .where('id', '=', connectorId)
    .execute();
}
