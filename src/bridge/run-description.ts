import type { SearchAttributePair } from '@temporalio/common';
import type { GrantPriority } from '../budget/quotas.js';
import { TASK_PRIORITY_KEY } from '../../workflows/definitions.js';
import { ConnectorIdKey, ConnectorTypeKey, SyncTriggerKey, type SyncTrigger } from '../telemetry/search-attributes.js';

/** What the Web UI shows of a connector before the run reads its row. */
export interface ConnectorSummary {
  name: string;
  scope: string | null;
  scopeId: string | null;
  /** From its saved sync state (src/bridge/connector-summary.ts): the run's task priority. */
  priority?: GrantPriority | undefined;
}

export interface RunDescription {
  staticSummary: string;
  staticDetails: string;
  typedSearchAttributes: SearchAttributePair[];
}

const SOURCE_NAMES: Record<string, string> = {
  onedrive: 'OneDrive',
  google_drive: 'Google Drive',
  teams: 'Teams',
};

const PRIORITY_WORDS: Record<GrantPriority, string> = {
  interactive: 'incremental, ahead of backfills',
  backfill: 'backfill (a first sync or a whole enumeration), after incremental syncs',
};

export function sourceName(type: string): string {
  return SOURCE_NAMES[type] ?? type;
}

/**
 * The run's static summary and details (shown at the top of its page in the
 * Temporal Web UI) and its search attributes, so a list of `connector-sync-*`
 * runs says which connector each is and who started it:
 * "OneDrive sync of connector 7 · Marketing files".
 */
export function describeRun(run: {
  connectorId: number;
  type: string;
  trigger: SyncTrigger;
  connector?: ConnectorSummary | undefined;
  chunkingSession?: string | undefined;
  /** Why the trigger asked (a push notification, the daily pass), shown after it. */
  reason?: string | undefined;
}): RunDescription {
  const name = run.connector?.name.trim();
  const staticSummary = `${sourceName(run.type)} sync of connector ${run.connectorId}${name ? ` · ${name}` : ''}`;
  const scope = run.connector?.scope ? `${run.connector.scope}${run.connector.scopeId ? ` (${run.connector.scopeId})` : ''}` : 'unknown';
  const staticDetails = [
    `**Type:** ${run.type}`,
    `**Scope:** ${scope}`,
    `**Trigger:** ${run.trigger}${run.reason ? ` (${run.reason})` : ''}`,
    ...(run.connector?.priority ? [`**Priority:** ${PRIORITY_WORDS[run.connector.priority]} (task priority ${TASK_PRIORITY_KEY[run.connector.priority]})`] : []),
    `**Chunking session:** ${run.chunkingSession || 'none'}`,
  ].join('\n\n');
  return {
    staticSummary,
    staticDetails,
    typedSearchAttributes: [
      { key: ConnectorIdKey, value: run.connectorId },
      { key: ConnectorTypeKey, value: run.type },
      { key: SyncTriggerKey, value: run.trigger },
    ],
  };
}
