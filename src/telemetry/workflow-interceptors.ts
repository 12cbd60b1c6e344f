import {
  ContinueAsNew,
  isCancellation,
  metricMeter,
  workflowInfo,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { ConnectorTypeKey } from './search-attributes.js';
import { recordSyncEnd, type SyncOutcomeLabel } from './sync-metrics.js';

/**
 * Bundled into the workflow code (deterministic only). Counts each sync once
 * when it ends, by outcome, with its duration since its first run started (a
 * sync that continued as new carries that start), and puts connectorId on every
 * workflow log line. The workflow itself has no metric code.
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  let connectorId: number | undefined;
  return {
    inbound: [
      {
        async execute(input, next) {
          const arg = input.args[0] as { connectorId?: unknown; carry?: { startedAt?: unknown } } | undefined;
          if (typeof arg?.connectorId === 'number') connectorId = arg.connectorId;
          const startedAt = typeof arg?.carry?.startedAt === 'string' ? Date.parse(arg.carry.startedAt) : workflowInfo().runStartTime.getTime();
          const end = (outcome: SyncOutcomeLabel) => {
            const type = workflowInfo().typedSearchAttributes.get(ConnectorTypeKey) ?? 'unknown';
            recordSyncEnd(metricMeter, outcome, type, (Date.now() - startedAt) / 1000);
          };
          try {
            const result = await next(input);
            const outcome = (result as { outcome?: SyncOutcomeLabel } | undefined)?.outcome;
            if (outcome) end(outcome);
            return result;
          } catch (e) {
            if (e instanceof ContinueAsNew) throw e;
            end(isCancellation(e) ? 'cancelled' : 'failed');
            throw e;
          }
        },
      },
    ],
    outbound: [
      {
        getLogAttributes: (input, next) => next(connectorId !== undefined ? { ...input, connectorId } : input),
      },
    ],
  };
};
