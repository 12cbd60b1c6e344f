import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { FolderTree, SourceContext } from '../types.js';
import { resolveDriveIdentity } from './auth.js';
import { DriveClient } from './client.js';
import { parseDriveConfig, type DriveConnectorConfig } from './config.js';
import type { GoogleCredentialStore } from './credentials.js';
import { classifyDriveError } from './errors.js';
import { ScopeTree } from './scope.js';

/** What one listChanges or openContent call works with, built once from the SourceContext. */
export interface DriveSession {
  config: DriveConnectorConfig;
  client: DriveClient;
  folders: FolderTree;
  scope: ScopeTree;
  logger: Logger;
  /** Origin of the Drive API, trusted with our bearer token besides Google's own hosts. */
  apiOrigin: string;
}

export async function openDriveSession(ctx: SourceContext, settings: Config['google'], credentials: GoogleCredentialStore): Promise<DriveSession> {
  const config = parseDriveConfig(ctx.config);
  const identity = await resolveDriveIdentity(ctx, settings, config, credentials);
  // One deployment calls Drive as one Cloud project: every user's queries also count against the project's minute.
  const costs = ctx.memory.quotas.drive('deployment', identity.label);
  const http = ctx.makeHttp({ tenantKey: `google-drive:${identity.label}`, auth: identity.tokens, classify: classifyDriveError, costs });
  const baseUrl = settings.driveBaseUrl.replace(/\/+$/, '');
  const client = new DriveClient(http, baseUrl);
  return {
    config,
    client,
    folders: ctx.folders,
    scope: new ScopeTree(ctx.folders, client),
    logger: ctx.logger,
    apiOrigin: new URL(baseUrl).origin,
  };
}
