import type { ConnectorRow } from '../db/schema.js';
import { parseDriveCursor } from '../providers/google-drive/cursor.js';
import { parseOneDriveCursor, parseSiteCursor } from '../providers/microsoft-graph/onedrive/cursor.js';
import { parseTeamsConfig } from '../providers/microsoft-graph/teams/config.js';
import { parseTeamsCursor } from '../providers/microsoft-graph/teams/cursor.js';

/**
 * The subscriptions a push connector should have, read from what its syncs
 * already found (the saved cursor names the drives, libraries, channels and
 * change logs), so no listing is repeated here. Before the first sync there is
 * nothing to watch: the keeper looks again later.
 *
 * - OneDrive / SharePoint: each synced drive's root (`/drives/{id}/root`: Graph
 *   sends driveItem notifications only for a root, "driveItem" in "Set up change
 *   notifications", learn.microsoft.com/graph/api/resources/change-notifications-api-overview);
 * - Teams: each synced channel's messages (`/teams/{t}/channels/{c}/messages`) and
 *   the root of the team's library that holds the channels' files folders;
 * - Google Drive: a changes.watch channel per change log (the identity's own, one per shared drive).
 */
export type WantedSubscription =
  | { source: 'graph'; kind: 'driveItem'; resource: string }
  | { source: 'graph'; kind: 'channelMessages'; resource: string }
  | { source: 'drive'; kind: 'driveChanges'; resource: string; pageToken: string; driveId?: string };

export const driveRootResource = (driveId: string): string => `/drives/${driveId}/root`;
export const channelMessagesResource = (teamId: string, channelId: string): string => `/teams/${teamId}/channels/${channelId}/messages`;
/** Drive's change log of the identity itself has no drive id. */
export const USER_CHANGE_LOG = 'user';

export function planSubscriptions(connector: ConnectorRow, graphBaseUrl: string): WantedSubscription[] {
  const cursor = (connector.state as { cursor?: unknown } | null)?.cursor;
  if (!cursor) return [];
  switch (connector.type) {
    case 'onedrive': {
      const drive = parseOneDriveCursor(cursor, graphBaseUrl);
      if (drive) return [{ source: 'graph', kind: 'driveItem', resource: driveRootResource(drive.driveId) }];
      const site = parseSiteCursor(cursor, graphBaseUrl);
      return site ? unique(site.libraries.map((l) => driveRootResource(l.driveId))).map((resource) => ({ source: 'graph', kind: 'driveItem', resource })) : [];
    }
    case 'teams': {
      const teams = parseTeamsCursor(cursor, graphBaseUrl);
      // A cursor from before one delta per library is replaced by the next sync: watch what that one finds.
      if (!teams || teams.v !== 2) return [];
      const { teamId } = parseTeamsConfig(connector.config);
      const channels: WantedSubscription[] = teams.channels.map((c) => ({ source: 'graph', kind: 'channelMessages', resource: channelMessagesResource(teamId, c.id) }));
      // The drives holding the channels' files folders: the team library, and private or shared channels' own sites.
      const libraries = unique([...teams.drives.map((d) => d.driveId), ...teams.channels.flatMap((c) => (c.files ? [c.files.driveId] : []))]).map(driveRootResource);
      return [...channels, ...libraries.map((resource): WantedSubscription => ({ source: 'graph', kind: 'driveItem', resource }))];
    }
    case 'google_drive': {
      const drive = parseDriveCursor(cursor);
      if (!drive || drive.phase === 'lost') return [];
      return drive.logs.map((log) => ({
        source: 'drive',
        kind: 'driveChanges',
        resource: log.driveId ?? USER_CHANGE_LOG,
        pageToken: log.token,
        ...(log.driveId ? { driveId: log.driveId } : {}),
      }));
    }
    default:
      return [];
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
