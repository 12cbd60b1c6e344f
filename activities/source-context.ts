import { Context } from '@temporalio/activity';
import type { ConnectorRow } from '../src/db/schema.js';
import { SourceHttp } from '../src/http/source-http.js';
import { PermanentSourceError } from '../src/errors.js';
import { databaseCredentialStore, databaseFolderTree, databaseItemParents } from '../src/providers/stores.js';
import type { SourceContext, SourceProvider } from '../src/providers/types.js';
import { recordThrottleWait } from '../src/telemetry/sync-metrics.js';
import { noteThrottleWait } from '../src/telemetry/throttle-tally.js';
import type { ActivityDeps } from './deps.js';
import { grantPriority } from './sync-state.js';

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Reports liveness (and progress details) to Temporal; a no-op outside an activity. */
export function heartbeat(details: Record<string, unknown>): void {
  currentContext()?.heartbeat(details);
}

/**
 * Heartbeats every `everyMs` while `work` runs, whatever it is waiting for
 * (details as given, or as the function reads them at each beat).
 */
export async function withHeartbeats<T>(
  details: Record<string, unknown> | (() => Record<string, unknown>),
  work: () => Promise<T>,
  everyMs = 10_000,
): Promise<T> {
  const ctx = currentContext();
  const timer = setInterval(() => ctx?.heartbeat(typeof details === 'function' ? details() : details), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Keeps the activity alive while the HTTP layer waits out throttling, and says why in the log. */
function heartbeatOnRetry(deps: ActivityDeps, connectorId: number): NonNullable<ActivityDeps['http']>['onRetry'] {
  return (info) => {
    deps.logger.warn({ connectorId, ...info }, 'source request retried');
    currentContext()?.heartbeat({ waiting: info.reason, delayMs: info.delayMs });
  };
}

export function providerFor(deps: ActivityDeps, connector: ConnectorRow): SourceProvider {
  const provider = deps.providers[connector.type];
  if (!provider) {
    throw new PermanentSourceError(
      `connectors of type "${connector.type}" cannot be synced by this version of echomind-connector`,
      'unsupportedType',
      'sync',
    );
  }
  return provider;
}

export function buildSourceContext(deps: ActivityDeps, connector: ConnectorRow): SourceContext {
  const ctx = currentContext();
  return {
    connector,
    config: { ...(connector.config) },
    memory: deps.sourceMemory,
    credentials: databaseCredentialStore(deps.db, connector.id),
    folders: databaseFolderTree(deps.db, connector.id),
    items: databaseItemParents(deps.db, connector.id),
    logger: deps.logger.child({ connectorId: connector.id, connectorType: connector.type }),
    ...(ctx ? { signal: ctx.cancellationSignal } : {}),
    makeHttp: (options) =>
      new SourceHttp({
        ...deps.http,
        pauses: deps.sourceMemory.pauses,
        rateLimiter: deps.sourceMemory.rates,
        dispatcher: deps.sourceMemory.connections,
        budget: deps.sourceMemory.budget,
        priority: grantPriority(connector.state, connector.type),
        onRetry: heartbeatOnRetry(deps, connector.id),
        onThrottle: (t) => {
          noteThrottleWait(t.delayMs);
          if (ctx) recordThrottleWait(ctx.metricMeter, connector.type, t.tenantKey, t.delayMs, t.handedOver);
        },
        ...options,
      }),
  };
}
