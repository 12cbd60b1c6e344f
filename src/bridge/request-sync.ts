import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { SyncTrigger } from '../telemetry/search-attributes.js';
import { SYNC_WORKFLOW_TYPE, syncRequestedSignal, TASK_PRIORITY_KEY, syncWorkflowId, type SyncConnectorInput } from '../../workflows/definitions.js';
import { describeRun, type ConnectorSummary } from './run-description.js';

/** One request for a sync of one connector, from whoever asks (the orchestrator through NATS, a push notification). */
export interface SyncRequest {
  connectorId: number;
  type: string;
  trigger: SyncTrigger;
  connector?: ConnectorSummary | undefined;
  chunkingSession?: string | undefined;
  /** Why it was asked, for the run's details ("change notification", "daily pass"). */
  reason?: string | undefined;
}

/**
 * The one way a sync is asked for: signal-with-start of `connector-sync-<id>`.
 * With no sync running it starts one (with the run's summary, details and
 * search attributes); a running sync is told that another request came and
 * makes one more pass from its saved cursor before finishing, so no change is
 * missed. Resolves once Temporal accepted it, with the run signalled.
 */
export async function requestSync(temporal: Client, taskQueue: string, request: SyncRequest): Promise<{ workflowId: string; runId: string }> {
  const input: SyncConnectorInput = {
    connectorId: request.connectorId,
    expectedType: request.type,
    ...(request.chunkingSession ? { chunkingSession: request.chunkingSession } : {}),
  };
  const workflowId = syncWorkflowId(request.connectorId);
  const run = describeRun(request);
  const handle = await temporal.workflow.signalWithStart(SYNC_WORKFLOW_TYPE, {
    taskQueue,
    workflowId,
    args: [input],
    signal: syncRequestedSignal,
    signalArgs: [{ ...(request.chunkingSession ? { chunkingSession: request.chunkingSession } : {}), trigger: request.trigger }],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    staticSummary: run.staticSummary,
    staticDetails: run.staticDetails,
    typedSearchAttributes: run.typedSearchAttributes,
    // Ahead of backfills' tasks on the queue when it starts; unknown (no row read): the server's default.
    ...(request.connector?.priority ? { priority: { priorityKey: TASK_PRIORITY_KEY[request.connector.priority] } } : {}),
  });
  return { workflowId, runId: handle.signaledRunId };
}
