import { commitPageActivity } from './commit-page.js';
import { connectorLifecycle } from './connector-lifecycle.js';
import type { ActivityDeps } from './deps.js';
import { failedItemActivities } from './failed-items.js';
import { operatorControlActivities } from './operator-controls.js';
import { planPageActivity } from './plan-page.js';
import { pushSubscriptionActivities } from './push-subscriptions.js';
import { transferBatchActivity } from './transfer-batch.js';
import { transferFileActivity } from './transfer-file.js';

export type { ActivityDeps } from './deps.js';

/** All activities of the sync, bound to the clients the worker wired. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...connectorLifecycle(deps),
    ...failedItemActivities(deps),
    ...operatorControlActivities(deps),
    ...pushSubscriptionActivities(deps),
    planPage: planPageActivity(deps),
    transferFile: transferFileActivity(deps),
    transferBatch: transferBatchActivity(deps),
    commitPage: commitPageActivity(deps),
  };
}

export type SyncActivities = ReturnType<typeof createActivities>;
