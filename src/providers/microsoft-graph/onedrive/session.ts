import type { Config } from '../../../config.js';
import type { Logger } from '../../../logger.js';
import type { FolderTree, ItemParents, SourceContext } from '../../types.js';
import { type GraphClient, graphClient } from '../client.js';
import { type OneDriveConfig, parseOneDriveConfig } from './config.js';

/** What one listChanges or openContent call works with, built once from the SourceContext. */
export interface OneDriveSession {
  config: OneDriveConfig;
  /** The shared HTTP layer, signed in as the connector. */
  graph: GraphClient;
  /** The scope's folder ancestry (`connector_sync.source_folders`). */
  folders: FolderTree;
  /** Where each listed item's parent is kept (`connector_sync.source_items`), under the cursor's scope key. */
  items: ItemParents;
  logger: Logger;
  signal?: AbortSignal;
}

export function openOneDriveSession(ctx: SourceContext, settings: Config['microsoft']): OneDriveSession {
  return {
    config: parseOneDriveConfig(ctx.config),
    graph: graphClient(ctx, settings),
    folders: ctx.folders,
    items: ctx.items,
    logger: ctx.logger,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  };
}
