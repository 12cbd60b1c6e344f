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
  /** The change logs this call reads (from the cursor): which corpora arrive by log, and which must be re-read by hand. */
  corpora: LogCorpora;
  /** Shortcut targets outside those corpora, refreshed each pass; loaded from and saved to the cursor. */
  foreignTargets: Map<string, string | undefined>;
}

/** Which corpora the connector's change logs cover. */
export class LogCorpora {
  constructor(
    /** The identity's own log is read (My Drive, and items shared with it that it is no member for). */
    readonly user: boolean,
    /** Shared drives whose own log is read; the identity is a member of each (drives.get answered). */
    readonly drives: ReadonlySet<string>,
  ) {}

  static of(logs: ReadonlyArray<{ driveId?: string | undefined }>): LogCorpora {
    return new LogCorpora(
      logs.some((l) => !l.driveId),
      new Set(logs.flatMap((l) => (l.driveId ? [l.driveId] : []))),
    );
  }

  /** The shared drive to list a folder of it with corpora=drive: only a member's (others get 404). */
  listingDrive(driveId: string | undefined): { driveId: string } | Record<string, never> {
    return driveId && this.drives.has(driveId) ? { driveId } : {};
  }

  /** Will this file's later edits come through a log we read? A member drive's items only through that drive's log. */
  covers(file: { driveId?: string | undefined; resourceKey?: string | undefined }): boolean {
    if (file.driveId && this.drives.has(file.driveId)) return true;
    // Reached by link only: nothing is logged for it (resource-keys guide). Otherwise the user log has what is shared with us.
    return this.user && file.resourceKey === undefined && file.driveId === undefined;
  }
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
    corpora: new LogCorpora(false, new Set()),
    foreignTargets: new Map(),
  };
}
