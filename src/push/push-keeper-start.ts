import type { Client } from '@temporalio/client';
import { ConnectorIdKey, ConnectorTypeKey } from '../telemetry/search-attributes.js';
import { sourceName } from '../bridge/run-description.js';
import {
  checkSubscriptionsSignal,
  PUSH_KEEPER_WORKFLOW_TYPE,
  pushKeeperWorkflowId,
  type LifecycleEvent,
  type PushKeeperInput,
} from '../../workflows/definitions.js';

/**
 * Starts the connector's push keeper (`push-keeper-<id>`) unless it runs
 * already, or, with a lifecycle event, tells the running one (starting it if
 * it had ended). Its summary names the connector in the Web UI.
 */
export async function ensurePushKeeper(
  temporal: Client,
  taskQueue: string,
  connector: { id: number; type: string },
  lifecycle?: LifecycleEvent,
): Promise<void> {
  const input: PushKeeperInput = { connectorId: connector.id };
  const options = {
    taskQueue,
    workflowId: pushKeeperWorkflowId(connector.id),
    args: [input] as [PushKeeperInput],
    staticSummary: `${sourceName(connector.type)} push subscriptions of connector ${connector.id}`,
    typedSearchAttributes: [
      { key: ConnectorIdKey, value: connector.id },
      { key: ConnectorTypeKey, value: connector.type },
    ],
  };
  if (lifecycle) {
    await temporal.workflow.signalWithStart(PUSH_KEEPER_WORKFLOW_TYPE, { ...options, signal: checkSubscriptionsSignal, signalArgs: [{ lifecycle }] });
    return;
  }
  await temporal.workflow.start(PUSH_KEEPER_WORKFLOW_TYPE, { ...options, workflowIdConflictPolicy: 'USE_EXISTING' });
}
