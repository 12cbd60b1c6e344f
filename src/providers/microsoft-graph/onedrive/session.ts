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
  /** Several folders of the drive as the scope (a team library's channel folders, see scope.ts), instead of `config.folder`. */
  scopeRoots?: readonly string[];
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

/** Drive folders another source syncs with this code (a team library's channel folders): the scope typed, not written as a connector config. */
export interface DriveFolderScope {
  driveId: string;
  /** The folders in scope, each with its subtree; one delta of the drive serves them all. */
  folderIds: readonly string[];
  /** Items per delta page. */
  pageSize: number;
}

export function driveFolderSession(
  graph: GraphClient,
  scope: DriveFolderScope,
  context: { folders: FolderTree; items: ItemParents; logger: Logger; signal?: AbortSignal },
): OneDriveSession {
  return {
    // Periodic full enumerations are the calling source's to schedule (OneDrive's provider does its own): none here.
    // The whole drive's delta (its cursor scope is the drive), reporting only what lies in the folders.
    config: { target: { kind: 'drive', id: scope.driveId }, folder: null, pageSize: scope.pageSize, fullEnumerationDays: 0 },
    scopeRoots: scope.folderIds,
    graph,
    folders: context.folders,
    items: context.items,
    logger: context.logger,
    ...(context.signal ? { signal: context.signal } : {}),
  };
}
