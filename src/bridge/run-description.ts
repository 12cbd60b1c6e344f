import type { SearchAttributePair } from '@temporalio/common';
import { ConnectorIdKey, ConnectorTypeKey, SyncTriggerKey, type SyncTrigger } from '../telemetry/search-attributes.js';

/** What the Web UI shows of a connector before the run reads its row. */
export interface ConnectorSummary {
  name: string;
  scope: string | null;
  scopeId: string | null;
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
