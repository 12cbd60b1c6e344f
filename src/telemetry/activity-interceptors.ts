import { ApplicationFailure, type MetricMeter } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { withLogContext, type LogContext } from './log-context.js';
import { recordBytes, recordFailure, recordFiles, type FileResult } from './sync-metrics.js';
import { withThrottleReport, withThrottleTally } from './throttle-tally.js';

/** An activity input names its connector; anything else (a test's own activity) carries none. */
function connectorIdOf(args: unknown[]): number | undefined {
  const first = args[0] as { connectorId?: unknown } | undefined;
  return typeof first?.connectorId === 'number' ? first.connectorId : undefined;
}

interface OutcomeLike {
  sourceId: string;
  result: FileResult;
  bytes?: number;
  code?: string;
  reason?: string;
}

const isOutcome = (v: unknown): v is OutcomeLike =>
  typeof v === 'object' && v !== null && typeof (v as OutcomeLike).sourceId === 'string' && typeof (v as OutcomeLike).result === 'string';

/** The per-file outcomes an activity returned: one (`transferFile`), a list, or a batch's `outcomes`. */
function outcomesIn(result: unknown): OutcomeLike[] {
  if (isOutcome(result)) return [result];
  if (Array.isArray(result)) return result.filter(isOutcome);
  const batch = (result as { outcomes?: unknown } | null)?.outcomes;
  return Array.isArray(batch) ? batch.filter(isOutcome) : [];
}

interface PageLike {
  hasMore: boolean;
  unchanged?: number;
  renamed?: number;
  deleted?: number;
  skipped?: unknown[];
  failed?: Array<{ code?: string }>;
}

const isPage = (v: unknown): v is PageLike => typeof v === 'object' && v !== null && typeof (v as PageLike).hasMore === 'boolean';

/** Counts what an activity's returned value says happened to files; activities stay free of metric code. */
export function recordActivityResult(meter: MetricMeter, result: unknown): void {
  // Added up first: one counter update per result for a batch of a hundred files, not two per file.
  const files = new Map<FileResult, number>();
  let bytes = 0;
  for (const outcome of outcomesIn(result)) {
    files.set(outcome.result, (files.get(outcome.result) ?? 0) + 1);
    bytes += outcome.bytes ?? 0;
    if (outcome.result === 'failed') recordFailure(meter, 'item', outcome.code ?? 'unknown');
  }
  for (const [fileResult, count] of files) recordFiles(meter, fileResult, count);
  recordBytes(meter, bytes);
  if (isPage(result)) {
    recordFiles(meter, 'unchanged', result.unchanged ?? 0);
    recordFiles(meter, 'renamed', result.renamed ?? 0);
    recordFiles(meter, 'deleted', result.deleted ?? 0);
    recordFiles(meter, 'skipped', result.skipped?.length ?? 0);
    for (const failed of result.failed ?? []) {
      recordFiles(meter, 'failed', 1);
      recordFailure(meter, 'item', failed.code ?? 'unknown');
    }
  }
  const swept = (result as { swept?: unknown } | null)?.swept;
  if (typeof swept === 'number') recordFiles(meter, 'deleted', swept);
}

/** A failure retrying cannot fix ends the sync: counted by its type (e.g. SourcePermanentError, ConnectorNotFound). */
function recordActivityFailure(meter: MetricMeter, error: unknown): void {
  if (error instanceof ApplicationFailure && error.nonRetryable) {
    const code = (error.details?.[0] as { code?: unknown } | undefined)?.code;
    recordFailure(meter, 'sync', typeof code === 'string' ? code : (error.type ?? 'ApplicationFailure'));
  }
}

/**
 * Per activity: every log line written while it runs (our pino logger's and the
 * SDK's) carries connectorId, workflowId and runId, what it returns is
 * counted into the sync metrics, and the throttle waits it sat through go back
 * to the workflow with its result (throttle-tally.ts).
 */
export const syncActivityInterceptors: ActivityInterceptorsFactory = (ctx) => {
  const { info } = ctx;
  let fields: LogContext = {};
  return {
    inbound: {
      async execute(input, next) {
        const connectorId = connectorIdOf(input.args);
        fields = {
          ...(connectorId !== undefined ? { connectorId } : {}),
          ...(info.workflowExecution ? { workflowId: info.workflowExecution.workflowId, runId: info.workflowExecution.runId } : {}),
        };
        return withLogContext(fields, async () => {
          try {
            const { result, tally } = await withThrottleTally(() => next(input));
            recordActivityResult(ctx.metricMeter, result);
            return withThrottleReport(result, tally);
          } catch (e) {
            recordActivityFailure(ctx.metricMeter, e);
            throw e;
          }
        });
      },
    },
    outbound: {
      getLogAttributes: (input, next) => next({ ...input, ...fields }),
    },
  };
};
