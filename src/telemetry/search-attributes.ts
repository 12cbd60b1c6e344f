import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The custom search attributes of a sync run, registered in the namespace by
 * scripts/stack.sh, docker-compose.yml and docs/deploy.md. Deterministic code
 * only: the workflow bundle imports this file.
 */
export const ConnectorIdKey = defineSearchAttributeKey('ConnectorId', SearchAttributeType.INT);
export const ConnectorTypeKey = defineSearchAttributeKey('ConnectorType', SearchAttributeType.KEYWORD);
export const SyncTriggerKey = defineSearchAttributeKey('SyncTrigger', SearchAttributeType.KEYWORD);

/**
 * Who started a run: EchoMind's orchestrator (through the bridge), a person, the sync itself
 * continuing as new, or push: a change notification from the source, or the connector's
 * push keeper (a missed notification, a failed renewal, the daily pass).
 */
export type SyncTrigger = 'orchestrator' | 'manual' | 'continued' | 'push';

/** Name and type of each, as `temporal operator search-attribute create` wants them. */
export const SEARCH_ATTRIBUTES = { ConnectorId: 'Int', ConnectorType: 'Keyword', SyncTrigger: 'Keyword' } as const;
