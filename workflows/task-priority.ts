import { patched, type ActivityOptions } from '@temporalio/workflow';
import { TASK_PRIORITY_KEY, type SyncCarry } from './definitions.js';

/**
 * The task priority of a sync's next activity: what the budget decided from the
 * connector's last saved state (beginSync, then each commitPage). Without a
 * decision yet (beginSync itself, or a run whose beginSync predates it), the
 * activity inherits the run's own priority, set by whoever started it.
 * Deterministic code only.
 */

/** Runs recorded before activities carried a priority replay without this marker, and keep none. */
const ACTIVITY_TASK_PRIORITY = 'activity-task-priority';

export function taskPriority(carry: SyncCarry): Pick<ActivityOptions, 'priority'> {
  if (carry.priority === undefined || !patched(ACTIVITY_TASK_PRIORITY)) return {};
  return { priority: { priorityKey: TASK_PRIORITY_KEY[carry.priority] } };
}
