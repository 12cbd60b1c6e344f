import type { RunningService } from '../../src/service.js';
import { checkSubscriptionsSignal, pushKeeperWorkflowId } from '../../workflows/definitions.js';
import { waitFor } from './integration.js';

/** Steps the push suites share: the connector's stored subscriptions, its keeper's first look, and the pass that follows it. */

export const subscriptionsOf = (service: RunningService, connectorId: number) =>
  service.db.selectFrom('connector_sync.push_subscriptions').selectAll().where('connector_id', '=', connectorId).execute();

type SubscriptionRow = Awaited<ReturnType<typeof subscriptionsOf>>[number];

/**
 * Once the connector's first sync is over: waits for its push keeper, asks it to look now (it
 * started with the request, maybe before the cursor it subscribes from was saved), and waits until
 * `count` subscriptions are stored and the pass the keeper asks for after subscribing has ended.
 */
export async function subscribed(service: RunningService, connectorId: number, count = 1): Promise<SubscriptionRow[]> {
  const keeper = service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId));
  await waitFor('the push keeper to start', async () => (await keeper.describe().catch(() => undefined))?.status.name === 'RUNNING');
  await keeper.signal(checkSubscriptionsSignal);
  const rows = await waitFor(`${count} subscription(s) stored`, async () => {
    const stored = await subscriptionsOf(service, connectorId);
    return stored.length >= count ? stored : undefined;
  });
  await waitForPushPass(service, connectorId);
  return rows;
}

/**
 * The pass the keeper asks for once it has subscribed (changes before the subscription were notified
 * by nobody): waited for until it has ended and no sync of the connector runs, so that a test's
 * own request starts a run of its own instead of joining that pass.
 */
export async function waitForPushPass(service: RunningService, connectorId: number): Promise<void> {
  await waitFor('the push pass after subscribing to end, and no sync running', async () => {
    let pushPassSeen = false;
    for await (const w of service.temporal.workflow.list({ query: `ConnectorId = ${connectorId} AND WorkflowType = "syncConnector"` })) {
      if (w.status.name === 'RUNNING') return false;
      if (w.searchAttributes.SyncTrigger?.[0] === 'push') pushPassSeen = true;
    }
    return pushPassSeen;
  });
}
