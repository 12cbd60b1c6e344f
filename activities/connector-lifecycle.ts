import { ApplicationFailure } from '@temporalio/activity';
import { sql } from 'kysely';
import { MAX_CONNECTOR_ID } from '../src/contract.js';
import type { ConnectorRow } from '../src/db/schema.js';
import type { BeginSyncResult, SyncTotals } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { FAILURE } from './failures.js';

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
    async beginSync(input: { connectorId: number; expectedType?: string }): Promise<BeginSyncResult> {
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
      return { kind: 'run', connectorType: row.type };
    },

    /** Success: `active`, `last_sync_at`, `docs_analyzed` += stored, and a one-line summary. */
    async finishSync(input: { connectorId: number; totals: SyncTotals; summary: string }): Promise<void> {
      const stored = input.totals.new + input.totals.updated;
      await deps.db
        .updateTable('connectors')
        .set({
          status: 'active',
          status_message: input.summary,
          last_sync_at: new Date(),
          last_update: new Date(),
          docs_analyzed: sql`coalesce(docs_analyzed, 0) + ${stored}`,
        })
        .where('id', '=', input.connectorId)
        .execute();
      deps.logger.info({ connectorId: input.connectorId, totals: input.totals }, `sync finished: ${input.summary}`);
    },

    /** Failure: `error` with a message a person can act on. */
    async failSync(input: { connectorId: number; message: string }): Promise<void> {
      await setStatus(deps, input.connectorId, 'error', input.message);
      deps.logger.error({ connectorId: input.connectorId }, `sync failed: ${input.message}`);
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
